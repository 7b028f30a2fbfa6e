"""The timeoutlab options of a Locust run, checked in one place: pure functions, typed errors.

Locust hands the options over as typed at the command line or in the web UI's start dialog
(text), so every rule is here, applied when a run starts (headless: at start-up; web UI: when
the swarm is asked for), never at import. Nothing here reads a clock or opens a socket: the
emulator's time scale is passed in by the caller, which fetched it from ``/_emulator/health``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Lambda runs 900 s at most, so a report's delay cannot be longer: the report app refuses more.
#: https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html
MAX_DELAY_MS = 900_000
#: The report app's own limit on ``amountOfRows`` (reportapp/report.py's MAX_ROWS).
MAX_ROWS = 1_000_000


class OptionError(ValueError):
    """An option value a run cannot start with; ``str()`` is the one line to show."""


class TimeScaleMismatch(OptionError):
    """``--time-scale`` differs from the emulator's: every emulated time would be wrong."""


@dataclass(frozen=True)
class RunOptions:
    """What the users of a run ask for.

    ``delays_ms``: the report delays (emulated ms) each user asks for in turn; ``rows``: rows per
    report; ``time_scale``: real seconds per emulated second, the emulator's.
    """

    delays_ms: tuple[int, ...]
    rows: int
    time_scale: float


def parse_delays(text: str | int | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """``5000`` or ``5000,40000`` (emulated ms, 0..900000 each) -> the delays in turn.

    Raises OptionError naming the option and the value."""
    if isinstance(text, (tuple, list)):
        text = ",".join(str(part) for part in text)
    parts = [part.strip() for part in str(text).split(",")]
    try:
        delays = tuple(int(part) for part in parts)
    except ValueError:
        raise OptionError(
            f"--report-delay: whole ms separated by commas, e.g. 5000,40000, not {text!r}"
        ) from None
    if any(not 0 <= delay <= MAX_DELAY_MS for delay in delays):
        raise OptionError(f"--report-delay: each delay must be 0..{MAX_DELAY_MS} ms, not {text!r}")
    return delays


def parse_rows(text: str | int) -> int:
    """Rows per report: a whole number 1..MAX_ROWS. Raises OptionError."""
    try:
        rows = int(str(text).strip())
    except ValueError:
        raise OptionError(f"--report-rows: a whole number of rows, not {text!r}") from None
    if not 1 <= rows <= MAX_ROWS:
        raise OptionError(f"--report-rows: 1..{MAX_ROWS} rows, not {rows}")
    return rows


def parse_time_scale(text: str | float | None) -> float | None:
    """Real seconds per emulated second, > 0 and finite; None (empty) for the emulator's own.

    Raises OptionError."""
    if text is None or str(text).strip() == "":
        return None
    try:
        scale = float(str(text).strip())
    except ValueError:
        raise OptionError(f"--time-scale: a number of real seconds, not {text!r}") from None
    if not (math.isfinite(scale) and scale > 0):
        raise OptionError(f"--time-scale: must be more than 0, not {text!r}")
    return scale


def resolve_time_scale(given: float | None, emulator: float, host: str) -> float:
    """The run's time scale: the emulator's (its health's ``time_scale``) unless one was given,
    which must then be the same.

    Raises TimeScaleMismatch in the scenario runner's words (``scenarios.runner.emulator``)."""
    if given is not None and given != emulator:
        raise TimeScaleMismatch(
            f"the emulator at {host} runs at time scale {emulator:g}; "
            f"pass --time-scale {emulator:g}"
        )
    return emulator


def check(
    report_delay: str | int | tuple[int, ...] | list[int],
    report_rows: str | int,
    time_scale: str | float | None,
    emulator_scale: float | None,
    host: str,
) -> RunOptions:
    """Every option checked, in the order a user reads them; the first bad one raises.

    ``emulator_scale`` is the emulator's health ``time_scale``, or None when it could not be
    read: then an explicit ``time_scale`` is taken as given, and none raises OptionError.
    """
    delays = parse_delays(report_delay)
    rows = parse_rows(report_rows)
    given = parse_time_scale(time_scale)
    if emulator_scale is None:
        if given is None:
            raise OptionError(
                f"cannot read the time scale of the emulator at {host}: pass --time-scale"
            )
        return RunOptions(delays, rows, given)
    return RunOptions(delays, rows, resolve_time_scale(given, emulator_scale, host))
