"""The timing set's figures: each test records its lines, the terminal summary prints them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_FIGURES = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    figures = config.stash.get(_FIGURES, [])
    if figures:
        terminalreporter.section("timing figures (emulated s)")
        for line in figures:
            terminalreporter.write_line(line)


@pytest.fixture
def timing_figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Records one line of figures for the terminal summary, under the test's name."""

    def record(line: str) -> None:
        request.config.stash.setdefault(_FIGURES, []).append(f"{request.node.name}: {line}")

    return record
