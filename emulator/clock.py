"""The one clock of the emulator: it knows the time scale.

Every emulated duration (report delay, integration timeout, Lambda timeout, ...) is converted to
real time here and nowhere else, so ``--time-scale 0.01`` plays a 40 s report in 0.4 s. Figures
shown to users are emulated seconds. The rules core never reads a clock: it is handed ``now``.
"""

from __future__ import annotations

import asyncio
import time

#: Environment variables through which Lambda handlers learn the emulated clock. On AWS they are
#: unset and handlers run on real time; the same names are read by ``reportapp/lambda_time.py``.
TIME_SCALE_ENV = "TIMEOUTLAB_TIME_SCALE"
EPOCH_ANCHOR_ENV = "TIMEOUTLAB_EPOCH_ANCHOR"
#: One anchor per process, so every clock here (and every handler) agrees on the emulated epoch.
_PROCESS_ANCHOR = time.time()


def validate_scale(scale: float) -> float:
    if not 0 < scale <= 1000:
        raise ValueError(f"time scale must be > 0 and <= 1000, got {scale!r}")
    return float(scale)


class ScaledClock:
    """Real time, stretched or squeezed by ``scale`` (emulated = real / scale).

    The emulated epoch starts at the real epoch of ``anchor`` and then runs ``1/scale`` times as
    fast, so emulator and handlers (given the same anchor) agree on "now".
    """

    def __init__(self, scale: float = 1.0, anchor: float | None = None) -> None:
        self.scale = validate_scale(scale)
        self.anchor = _PROCESS_ANCHOR if anchor is None else anchor
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._mono0) / self.scale

    def epoch(self) -> float:
        return self.anchor + (time.time() - self.anchor) / self.scale

    def to_real(self, seconds: float) -> float:
        return max(0.0, seconds) * self.scale

    def to_emulated(self, real_seconds: float) -> float:
        return real_seconds / self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.to_real(seconds))

    def handler_environment(self) -> dict[str, str]:
        """The variables that give Lambda handlers this clock."""
        return {TIME_SCALE_ENV: repr(self.scale), EPOCH_ANCHOR_ENV: repr(self.anchor)}


class ManualClock:
    """A clock that only moves when told to; for testing rules without sleeping."""

    def __init__(self, start: float = 0.0, epoch: float = 1_700_000_000.0) -> None:
        self.scale = 1.0
        self._now = start
        self._epoch0 = epoch - start

    def now(self) -> float:
        return self._now

    def epoch(self) -> float:
        return self._epoch0 + self._now

    def to_real(self, seconds: float) -> float:
        return 0.0

    def advance(self, seconds: float) -> None:
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
