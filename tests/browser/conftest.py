"""Browser tests: Playwright (from PyPI) driving the system's Chromium, headless.

Chromium comes from the distribution (`make browser`: Debian's ``chromium``, installed with
apt-get when missing and the user is root), never from ``playwright install``, whose download
hosts are not reachable here: ``chromium.launch(executable_path=...)`` points Playwright at it.
Where there is none the tests skip, saying why. ``TIMEOUTLAB_CHROMIUM`` names another binary.

Screenshots go to ``artifacts``: ``$TIMEOUTLAB_ARTIFACTS`` when set (``make screenshots`` sets
it to ``docs/images``, whose PNGs the README shows), else the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.stack import Stack, StackThread
from tests.browser.settings import time_scale
from tests.support import stack_config

#: Where Debian's package puts it; ``chromium`` on PATH is looked for first.
SYSTEM_CHROMIUM = "/usr/bin/chromium"
#: The page's viewport: the README's screenshots are this size.
VIEWPORT = {"width": 1280, "height": 760}


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None where none is installed."""
    named = os.environ.get("TIMEOUTLAB_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return SYSTEM_CHROMIUM if Path(SYSTEM_CHROMIUM).exists() else None


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """A headless Chromium (the system's), for this package's tests only: Playwright's sync API
    holds an asyncio loop as running in this thread while it is open, so it must be closed
    before other packages' tests run their own loops."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[test]'")
    path = chromium_path()
    if path is None:
        pytest.skip(
            "no Chromium installed: `make browser` installs Debian's chromium (as root, with "
            "apt-get), or set TIMEOUTLAB_CHROMIUM to a Chromium binary"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (its own context: no cookies or storage shared); on failure its screenshot
    goes to ``artifacts`` as ``failure-<test>.png``."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            page.screenshot(path=str(artifacts / f"failure-{request.node.name}.png"))
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Keep each phase's report on the test item, for the failure screenshot."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: ``$TIMEOUTLAB_ARTIFACTS`` (created), else ``tmp_path``."""
    folder = os.environ.get("TIMEOUTLAB_ARTIFACTS")
    if not folder:
        return tmp_path
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="package")
def stack(moto_server) -> Iterator[Stack]:
    """The bundled report app on free ports, its functions prewarmed (no cold start in the
    figures), at ``time_scale()``: at 0.1 a 40 s report takes 4 real seconds."""
    config = stack_config(moto_server.endpoint_url, time_scale=time_scale(), prewarm=True)
    with StackThread(config) as running:
        yield running
