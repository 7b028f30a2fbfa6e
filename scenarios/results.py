"""From what a phase's users saw and the emulator measured to one strategy's figures.

Pure functions over plain data: report samples as the phase recorded them (Locust request events),
the costs the users counted at their sockets, and the priced usage the emulator measured.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from scenarios.catalog import Expectation
from scenarios.pricing import Bill, Usage

#: A report that ended in a failure: its error text starts with the failure kind.
GATEWAY_TIMEOUT = "gateway_timeout"
#: How late, at most, the gateway may cut a request at the integration timeout: this fraction of
#: it, or GATEWAY_REAL_SLACK_S of real time, whichever is more.
GATEWAY_PRECISION = 1.02
#: Real seconds a loaded machine's event loop may take to run a due timer and answer (65 ms seen
#: beside two CPU hogs on two cores). Real time that the time scale stretches into emulated
#: seconds: 0.25 s real is 2.5 emulated s at a time scale of 0.1, 0.25 s at 1.
GATEWAY_REAL_SLACK_S = 0.25
_REPORT_NAME = re.compile(r"^(?P<label>.+) (?P<delay>\d+(?:\.\d+)?) s$")
#: The (request type, name) of the event an idle user fires for each close it sees.
IDLE_CLOSE = ("WS", "idle close")


def recorded(request_type: str, name: str) -> bool:
    """Whether a phase's figures are made of this Locust event: a report's outcome, or an idle
    close (the steps on the way to a report are not)."""
    return request_type == "REPORT" or (request_type, name) == IDLE_CLOSE


def failure_kind(error: str | None) -> str | None:
    return None if error is None else error.split(":", 1)[0]


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def report_name(label: str, delay_s: float) -> str:
    """The Locust request name of a report (locustfiles.common.ReportUser names them so)."""
    return f"{label} {delay_s:g} s"


def split_report_name(name: str) -> tuple[str, float] | None:
    """The label and delay (s) of a report name such as "rest 40 s"; None for other names."""
    match = _REPORT_NAME.match(name)
    return (match["label"], float(match["delay"])) if match else None


def seconds(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


def dollars_per_million(bill: Bill, reports: int) -> dict:
    """A strategy's dollar figures: its bill, and the wasted part of it, per million reports."""
    return {
        "usd_per_million_reports": round(bill.per_million(reports), 4),
        "wasted_usd_per_million_reports": round(bill.wasted_per_million(reports), 4),
    }


def outcome_figures(reports: list[dict]) -> dict:
    """Counts and time to result (delivered reports) or to failure (the others), in seconds."""
    delivered = [r["ms"] for r in reports if r["error"] is None]
    failed = [r["ms"] for r in reports if r["error"] is not None]
    return {
        "reports_requested": len(reports),
        "reports_delivered": len(delivered),
        "gateway_timeouts": sum(failure_kind(r["error"]) == GATEWAY_TIMEOUT for r in reports),
        "failures": dict(Counter(failure_kind(r["error"]) for r in reports if r["error"])),
        "time_to_result_p50_s": seconds(percentile(delivered, 0.5)),
        "time_to_result_p95_s": seconds(percentile(delivered, 0.95)),
        "time_to_failure_min_s": seconds(min(failed, default=None)),
        "time_to_failure_max_s": seconds(max(failed, default=None)),
    }


def strategy_figures(
    label: str, samples: list[dict], counts: dict, usage: Usage, bill: Bill
) -> dict:
    """One strategy's row: outcomes, costs per report (counted at the clients), dollars."""
    reports = [s for s in samples if s["type"] == "REPORT" and s["name"].startswith(f"{label} ")]
    figures = {"strategy": label, **outcome_figures(reports)}
    n = len(reports)
    per_report = lambda total: round(total / n, 3) if n else 0.0  # noqa: E731
    count = lambda key: counts.get(key, 0)  # noqa: E731
    figures.update(
        {
            "connections_per_report": per_report(count("tcp_connections")),
            "requests_per_report": per_report(count("http_requests")),
            "messages_per_report": per_report(
                count("ws_messages_sent") + count("ws_messages_received")
            ),
            "bytes_per_report": per_report(count("bytes_sent") + count("bytes_received")),
            **dollars_per_million(bill, n),
            "by_delay": {
                name.removeprefix(f"{label} "): outcome_figures(
                    [r for r in reports if r["name"] == name]
                )
                for name in sorted({r["name"] for r in reports}, key=_delay_of)
            },
            "client_counts": dict(sorted(counts.items())),
            "usage": usage.as_dict(),
            "bill_usd": bill.as_dict(),
        }
    )
    return figures


#: The execution-environment counts of ``/_emulator/metrics`` (``lambda.functions.<name>``) a
#: phase reports, summed over its functions.
ENVIRONMENT_COUNTS = ("cold_starts", "warm_starts", "init_ms", "environment_waits")


def environment_figures(after: dict, before: dict) -> dict:
    """What a phase cost in execution environments, from two ``/_emulator/metrics`` snapshots:
    ``cold_starts``, ``warm_starts``, ``init_ms`` (the cold starts' Init Duration summed, real =
    emulated ms) and ``environment_waits`` (invocations that waited for a free environment at
    the emulator's ``--max-environments`` cap: AWS would not make them wait), summed over the
    functions; ``init_ms_mean`` per cold start (None for none)."""
    functions_after = after.get("lambda", {}).get("functions", {})
    functions_before = before.get("lambda", {}).get("functions", {})
    figures: dict = {}
    for key in ENVIRONMENT_COUNTS:
        total = sum(
            f.get(key, 0) - functions_before.get(name, {}).get(key, 0)
            for name, f in functions_after.items()
        )
        figures[key] = round(total, 3) if key == "init_ms" else int(total)
    cold = figures["cold_starts"]
    figures["init_ms_mean"] = round(figures["init_ms"] / cold, 1) if cold else None
    return figures


def _delay_of(name: str) -> float:
    split = split_report_name(name)
    assert split is not None, f"not a report name: {name!r}"
    return split[1]


def check_expectation(
    expectation: Expectation,
    samples: list[dict],
    integration_timeout_s: float,
    lateness_max_s: float | None = None,
    time_scale: float = 1.0,
) -> str | None:
    """None when every matching report ended as expected, else why not, in one line.

    A 504 must never reach a client before the timeout: a report is timed from before its first
    request, and the gateway starts the integration timeout only once that request reached it,
    so a correct gateway's 504 comes after the whole timeout however slow the client. How close
    to it the gateway cut is judged where it is measured, at the gateway's deadline
    (``lateness_max_s``: the largest lateness of its integration timeouts, emulated seconds, the
    ``precision`` figure of ``/_emulator/metrics``): the processing before the deadline starts
    (reading the request, a cold start, a loaded event loop) is the processing overhead, which
    the report prints and warns about apart; ``time_scale`` turns the gateway's own real slack
    into emulated seconds.
    """
    if expectation.outcome == "idle_closed":
        return _check_idle_closes(samples)
    name = report_name(expectation.label, expectation.delay_s)
    reports = [s for s in samples if s["type"] == "REPORT" and s["name"] == name]
    if not reports:
        return f"{name}: no report finished during the run (run longer or add users)"
    if expectation.outcome == "delivered":
        failed = [r for r in reports if r["error"] is not None]
        if failed:
            return f"{name}: {len(failed)} of {len(reports)} not delivered ({failed[0]['error']})"
        return None
    wrong = [r for r in reports if failure_kind(r["error"]) != GATEWAY_TIMEOUT]
    if wrong:
        return (
            f"{name}: {len(wrong)} of {len(reports)} did not end in a 504 "
            f"({wrong[0]['error'] or 'delivered'})"
        )
    earliest = min(r["ms"] for r in reports) / 1000
    if earliest < integration_timeout_s:
        return f"{name}: a 504 came early, after {earliest:.2f} s ({integration_timeout_s:g} s)"
    allowed = max(
        integration_timeout_s * (GATEWAY_PRECISION - 1), GATEWAY_REAL_SLACK_S / time_scale
    )
    if lateness_max_s is not None and lateness_max_s > allowed:
        return (
            f"{name}: the gateway answered an integration timeout {lateness_max_s:.2f} s late, "
            f"over {GATEWAY_PRECISION - 1:.0%} of {integration_timeout_s:g} s or "
            f"{GATEWAY_REAL_SLACK_S:g} s real"
        )
    return None


def _check_idle_closes(samples: list[dict]) -> str | None:
    """The idle users judge each close themselves (1001, not early, not late): none may fail."""
    closes = [s for s in samples if (s["type"], s["name"]) == IDLE_CLOSE]
    if not closes:
        return "idle connections: none was closed during the run (run longer than the idle timeout)"
    failed = [c for c in closes if c["error"]]
    if failed:
        return f"idle connections: {len(failed)} of {len(closes)} wrong ({failed[0]['error']})"
    return None
