"""A scenario's results as people read them: the comparison table, the JSON file, the chart."""

from __future__ import annotations

import json
from pathlib import Path

from emulator.metrics import format_overhead_warning, format_precision
from scenarios.runner import ScenarioResult

_COLUMNS = (
    # (header, key, format)
    ("strategy", "strategy", "{}"),
    ("reports", "reports_requested", "{}"),
    ("delivered", "reports_delivered", "{}"),
    ("504s", "gateway_timeouts", "{}"),
    ("p50 s", "time_to_result_p50_s", "{:.2f}"),
    ("p95 s", "time_to_result_p95_s", "{:.2f}"),
    ("conns/rpt", "connections_per_report", "{:.2f}"),
    ("reqs/rpt", "requests_per_report", "{:.2f}"),
    ("msgs/rpt", "messages_per_report", "{:.2f}"),
    ("bytes/rpt", "bytes_per_report", "{:.0f}"),
    ("$/M reports", "usd_per_million_reports", "{:.2f}"),
    ("of it wasted", "wasted_usd_per_million_reports", "{:.2f}"),
)


def format_table(result: ScenarioResult) -> str:
    cells = [tuple(header for header, _, _ in _COLUMNS)]
    for phase in result.phases:
        row = phase.figures
        cells.append(
            tuple("-" if row[key] is None else fmt.format(row[key]) for _, key, fmt in _COLUMNS)
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_by_delay(result: ScenarioResult) -> str:
    """Outcomes per strategy and report delay: which delays got through, and when the 504s came."""
    lines = []
    for phase in result.phases:
        for delay, cell in phase.figures["by_delay"].items():
            line = (
                f"  {phase.label:<14} {delay:>5} report: {cell['reports_delivered']} of "
                f"{cell['reports_requested']} delivered"
            )
            if cell["reports_delivered"]:
                line += (
                    f" (p50 {cell['time_to_result_p50_s']:.2f} s, "
                    f"p95 {cell['time_to_result_p95_s']:.2f} s)"
                )
            if cell["gateway_timeouts"]:
                line += (
                    f", {cell['gateway_timeouts']} got the 504 after "
                    f"{cell['time_to_failure_min_s']:.2f}..{cell['time_to_failure_max_s']:.2f} s"
                )
            lines.append(line)
        if environments := phase.figures.get("environments"):
            lines.append(format_environments(phase.label, environments))
        if idle := phase.figures.get("idle_connections"):
            lines.append(
                f"  {phase.label:<14} and {idle.get('connections', 0)} idle connections beside: "
                f"{idle.get('idle_closes', 0)} closed by the gateway with 1001 at its idle "
                f"timeout, open {idle.get('ws_connection_s', 0) / 60:.1f} minutes in all"
            )
    return "\n".join(lines)


def format_environments(label: str, figures: dict) -> str:
    """One strategy's execution environments in a line: its cold starts (with their mean Init
    Duration) and the invocations that waited for a free environment."""
    cold = figures["cold_starts"]
    line = f"  {label:<14} Lambda: {cold} cold start(s)"
    if cold:
        line += f" (Init {figures['init_ms_mean'] / 1000:.2f} s real each on average)"
    line += f", {figures['warm_starts']} warm"
    if figures["environment_waits"]:
        line += f", {figures['environment_waits']} waited for a free execution environment"
    return line


def environment_totals(result: ScenarioResult) -> dict[str, float]:
    """``cold_starts``, ``environment_waits`` and ``init_ms`` (real ms), summed over the
    result's phases (each phase's ``figures["environments"]``)."""
    figures = [phase.figures.get("environments", {}) for phase in result.phases]
    keys = ("cold_starts", "environment_waits", "init_ms")
    return {key: sum(f.get(key, 0) for f in figures) for key in keys}


def format_environment_warning(result: ScenarioResult) -> str | None:
    """A warning line when invocations waited for a free execution environment at the
    emulator's cap (AWS would have started more): that wait is in the times to result."""
    waits = environment_totals(result)["environment_waits"]
    if not waits:
        return None
    cap = result.settings.get("max_environments")
    return (
        f"WARNING: {waits} invocation(s) waited for one of the emulator's "
        f"{cap if cap is not None else 'capped'} execution environments (AWS would have "
        "started more): the wait is in the times to result (and counts against the integration "
        "timeout); --max-environments raises the cap (each environment is a process)"
    )


def format_overhead_parts(result: ScenarioResult) -> str | None:
    """What besides the gateway's own processing the overhead figure holds, when it holds any:
    the cold starts' Init (real time, so 1/scale times as long in emulated seconds: a larger
    ``--time-scale`` shortens it) and the waits for a free execution environment (emulated
    time another invocation held it: a larger scale does not shorten them)."""
    totals = environment_totals(result)
    cold, waits = totals["cold_starts"], totals["environment_waits"]
    if not cold and not waits:
        return None
    init_s = totals["init_ms"] / 1000
    parts = []
    if cold:
        parts.append(
            f"the Init of {cold} cold start(s) ({init_s / cold:.2f} s real each on average, "
            "stretched by 1/scale like any processing)"
        )
    if waits:
        parts.append(
            f"{waits} wait(s) for a free execution environment (not shortened by a larger "
            "--time-scale; see --max-environments)"
        )
    return "  the overhead includes " + " and ".join(parts)


def format_summary(result: ScenarioResult) -> str:
    """The table, what it means, the cross-check and the expectations, for the terminal."""
    s = result.settings
    lines = [
        f"scenario {result.scenario.name}: {s['users']} users ({s['shape']}), "
        f"{s['run_time_s']:g} emulated s per strategy, time scale {s['time_scale']:g}, "
        f"reports of {', '.join(f'{d:g} s' for d in s['delays_s'])}, "
        f"integration timeout {s['integration_timeout_s']:g} s",
        "",
        format_table(result),
        "",
        format_by_delay(result),
        "",
        "Times are emulated seconds to a delivered URL; per-report counts are measured at the "
        "clients' sockets; dollars price what the emulator measured (API Gateway, Lambda, "
        f"DynamoDB, S3) at {s['prices']['region']} rates checked {s['prices']['checked']}; "
        "'wasted' is Lambda time billed after the gateway gave up.",
    ]
    if result.precision is not None:
        lines.append(format_precision(result.precision) + ", over the whole run")
        warning = format_overhead_warning(
            result.precision, s["integration_timeout_s"], s["time_scale"]
        )
        if warning is not None:
            lines.append(warning)
            if (parts := format_overhead_parts(result)) is not None:
                lines.append(parts)
    if (waited := format_environment_warning(result)) is not None:
        lines.append(waited)
    mismatches = result.mismatches
    checks = sum(len(p.checks) for p in result.phases)
    lines.append(
        f"cross-check with /_emulator/metrics: {checks - len(mismatches)} of {checks} counts agree"
    )
    lines += [f"  {check}" for check in mismatches]
    if result.expectation_failures:
        lines.append("expectations NOT met:")
        lines += [f"  {why}" for why in result.expectation_failures]
    elif result.scenario.expectations:
        lines.append(f"expectations met: {len(result.scenario.expectations)} of them")
    return "\n".join(lines)


def write_json(result: ScenarioResult, path: Path) -> None:
    path.write_text(json.dumps(result.as_dict(), indent=2) + "\n")


def write_chart(result: ScenarioResult, path: Path) -> None:
    """Two panels: time to result per strategy and report delay (p50 bar, p95 whisker; a red
    bar where reports ended in 504s, at the latest 504), and dollars per million reports."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    rows = [p.figures for p in result.phases]
    labels = [r["strategy"] for r in rows]
    delays = sorted({d for r in rows for d in r["by_delay"]}, key=lambda d: float(d.split()[0]))
    width = 0.8 / max(1, len(delays))
    figure, (times, dollars) = pyplot.subplots(1, 2, figsize=(13, 5))
    labelled: set[str] = set()
    for j, delay in enumerate(delays):
        for i, row in enumerate(rows):
            cell = row["by_delay"].get(delay)
            if not cell:
                continue
            x = i - 0.4 + width * (j + 0.5)
            if cell["reports_delivered"]:
                p50, p95 = cell["time_to_result_p50_s"], cell["time_to_result_p95_s"]
                first = delay not in labelled
                labelled.add(delay)
                times.bar(x, p50, width, color=_BLUES[j % len(_BLUES)],
                          label=f"{delay} report" if first else None)  # fmt: skip
                times.errorbar(x, p50, yerr=[[0], [p95 - p50]], fmt="none", ecolor="black",
                               capsize=3)  # fmt: skip
            if cell["gateway_timeouts"]:
                cut = cell["time_to_failure_max_s"]
                times.bar(x, cut, width, color="none", edgecolor="#c44e52", hatch="//")
                times.annotate(f"{cell['gateway_timeouts']}x 504", (x, cut), ha="center",
                               xytext=(0, 4), textcoords="offset points", color="#c44e52",
                               fontsize=8)  # fmt: skip
    timeout_s = result.settings["integration_timeout_s"]
    times.axhline(timeout_s, color="#c44e52", linestyle="--", linewidth=1,
                  label=f"integration timeout {timeout_s:g} s")  # fmt: skip
    times.set_title("time to result, emulated s (p50, p95 whisker; hatched: 504)")
    times.set_xticks(range(len(rows)), labels, rotation=20)
    times.legend(loc="upper left", fontsize=8)
    usd = [r["usd_per_million_reports"] for r in rows]
    wasted = [r["wasted_usd_per_million_reports"] for r in rows]
    dollars.bar(range(len(rows)), usd, color="#55a868", label="total")
    dollars.bar(range(len(rows)), wasted, color="#c44e52", label="of it, Lambda after the 504")
    dollars.set_title("USD per million reports")
    dollars.set_xticks(range(len(rows)), labels, rotation=20)
    dollars.legend(loc="upper left", fontsize=8)
    figure.suptitle(f"timeoutlab scenario {result.scenario.name}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


_BLUES = ("#4c72b0", "#8fb0e0", "#2a4a80")
