"""Settings the browser tests share (the fixtures are in conftest.py)."""

from __future__ import annotations

import os

from tests.support import LOAD_SCALE


def time_scale() -> float:
    """The stack's time scale: ``$TIMEOUTLAB_BROWSER_TIME_SCALE`` (``make screenshots`` plays
    time slower, so the README's figures carry less unscaled processing), else LOAD_SCALE: the
    browser, the page's polls and the handlers' unscaled processing must not eat a long poll's
    9 s margin under the 29 s on a loaded machine (0.9 s real here)."""
    return float(os.environ.get("TIMEOUTLAB_BROWSER_TIME_SCALE") or LOAD_SCALE)
