"""``timeoutlab scenario list`` and ``timeoutlab scenario run NAME``.

Exit codes: 0 when the run met its expectations; 1 when it did not; 2 for bad options or an
emulator that cannot be reached; 3 when the clients' counts and the emulator's disagree.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from emulator.arguments import positive, time_scale
from emulator.backends.endpoint import BackendError
from emulator.stack import LAMBDA_MODES
from scenarios import catalog, report
from scenarios.pricing import PricingError, load_prices
from scenarios.runner import ScenarioError, run_scenario

EXIT_EXPECTATIONS, EXIT_ERROR, EXIT_MISMATCH = 1, 2, 3


_TIMESPAN = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def _duration(text: str) -> float:
    """Seconds, or as Locust writes them: 90s, 10m, 1h30m."""
    match = _TIMESPAN.fullmatch(text.strip())
    try:
        seconds = float(text)
    except ValueError:
        if not match or not any(match.groups()):
            raise argparse.ArgumentTypeError(
                f"not a duration: {text!r} (e.g. 180, 90s, 10m, 1h)"
            ) from None
        hours, minutes, secs = (int(part or 0) for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return seconds


def add_parser(commands) -> None:
    scenario = commands.add_parser("scenario", help="named Locust load scenarios")
    verbs = scenario.add_subparsers(dest="scenario_command", required=True, metavar="VERB")
    verbs.add_parser("list", help="the scenarios, with their defaults")
    run = verbs.add_parser(
        "run",
        help="run one: start the emulator (or use --host), load it, print and write the results",
    )
    run.add_argument("name", help="scenario name (see `timeoutlab scenario list`)")
    add = run.add_argument
    add("--users", type=positive(int), help="peak number of users (default: the scenario's)")
    add("--spawn-rate", type=positive(float), help="users started per second")
    add(
        "--run-time",
        type=_duration,
        metavar="DURATION",
        help="emulated time per strategy: 180, 90s, 10m, 1h (default: the scenario's)",
    )
    add("--time-scale", type=time_scale, help="real seconds per emulated second")
    add("--host", help="REST API URL of a running emulator, e.g. http://127.0.0.1:3000/dev")
    add("--ws-url", help="its WebSocket API URL (default: as its /_emulator/health says)")
    add("--cafile", help="CA to trust for https/wss (a --tls emulator's certificate)")
    add("--backend", default="moto", help="backend of the emulator started here (default: moto)")
    add(
        "--lambda",
        dest="lambda_mode",
        choices=LAMBDA_MODES,
        default="local",
        help="where its handlers run: local (default) or remote, in the backend's Lambda",
    )
    add(
        "--max-environments",
        type=positive(int),
        metavar="N",
        help="execution environments (processes) the emulator started here keeps alive at once "
        "(default: timeoutlab up's, by the memory available); past it invocations wait, which AWS "
        "would not make them do, and the summary counts those waits",
    )
    add("--prices", type=Path, help="TOML file of AWS rates replacing the bundled ones")
    add("--json", type=Path, metavar="FILE", help="write the results as JSON")
    add("--chart", type=Path, metavar="FILE", help="write a PNG chart (default: beside --json)")


def list_scenarios() -> str:
    lines = []
    for s in catalog.SCENARIOS.values():
        lines.append(f"{s.name}")
        lines.append(f"    {s.summary}")
        lines.append(
            f"    strategies: {', '.join(p.label for p in s.phases)}; reports: "
            f"{', '.join(f'{d / 1000:g} s' for d in s.delays_ms)}; {s.users} users ({s.shape}), "
            f"{s.run_time_s:g} emulated s each at time scale {s.time_scale:g} "
            f"(about {s.run_time_s * s.time_scale * len(s.phases):.0f} s real in all)"
        )
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    if args.scenario_command == "list":
        print(list_scenarios())
        return 0
    try:
        scenario = catalog.get(args.name)
        prices = load_prices(args.prices)
        result = run_scenario(
            scenario,
            prices=prices,
            users=args.users,
            spawn_rate=args.spawn_rate,
            run_time_s=args.run_time,
            time_scale=args.time_scale,
            backend=args.backend,
            lambda_mode=args.lambda_mode,
            max_environments=args.max_environments,
            host=args.host,
            ws_url=args.ws_url,
            cafile=args.cafile,
        )
    except (catalog.UnknownScenario, PricingError, ScenarioError, BackendError) as exc:
        print(f"timeoutlab: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(report.format_summary(result))
    chart = args.chart or (args.json.with_suffix(".png") if args.json else None)
    if args.json:
        report.write_json(result, args.json)
        print(f"wrote {args.json}")
    if chart:
        report.write_chart(result, chart)
        print(f"wrote {chart}")
    if result.mismatches:
        print(
            "timeoutlab: error: the clients' counts and the emulator's disagree (see above); "
            "these figures cannot be trusted",
            file=sys.stderr,
        )
        return EXIT_MISMATCH
    return EXIT_EXPECTATIONS if result.expectation_failures else 0
