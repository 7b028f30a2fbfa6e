"""``timeoutlab scenario run``: the emulator (started here, or a running one), Locust, the figures.

Each phase runs Locust in a subprocess (``scenarios.locust_phase``) against the emulator, between
two reads of ``/_emulator/metrics``; the difference is what that phase's strategy made the
emulator do, priced with the cost model and checked against what the clients counted.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import httpx

from emulator.core.control_access import bearer_headers
from emulator.stack import StackConfig, StackThread
from reportclient.wire import verify_context
from scenarios import results
from scenarios.catalog import GATEWAY_ROUTES, IDLE_LABEL, Scenario
from scenarios.crosscheck import cross_check, delta, number_at
from scenarios.phase_process import PhaseError, PhaseTimeout, run_phase_process
from scenarios.pricing import Prices, Usage, price
from scenarios.shapes import SHAPES


class ScenarioError(RuntimeError):
    """The scenario could not run: the emulator is unreachable, a phase crashed, ..."""


@dataclass(frozen=True)
class Target:
    """A running emulator: its REST and WebSocket APIs and its /_emulator/ control API."""

    rest_url: str
    ws_url: str
    cafile: str | None = None

    @property
    def control_url(self) -> str:
        parts = urlsplit(self.rest_url)
        return f"{parts.scheme}://{parts.netloc}/_emulator"

    def get(self, what: str) -> dict:
        try:
            response = httpx.get(
                f"{self.control_url}/{what}",
                timeout=10,
                # One shared context: ``settle`` asks 20 times a second, and making a context
                # per request (httpx's default) cost 20 ms of CPU each time.
                verify=verify_context(self.cafile),
                headers=bearer_headers(os.environ),  # for an emulator run with --control-token
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ScenarioError(f"cannot read {self.control_url}/{what}: {exc}") from exc
        return response.json()


@dataclass
class PhaseResult:
    label: str
    figures: dict
    checks: list
    samples: list[dict] = field(repr=False)


@dataclass
class ScenarioResult:
    scenario: Scenario
    settings: dict
    phases: list[PhaseResult]
    expectation_failures: list[str]
    #: The gateway's precision (``emulator.core.precision``) as ``/_emulator/metrics`` gave it at
    #: the end of the run: over every phase (and, for a running emulator, since its last reset).
    precision: dict | None = None

    @property
    def mismatches(self) -> list:
        return [check for phase in self.phases for check in phase.checks if not check.ok]

    def as_dict(self) -> dict:
        return {
            "scenario": self.scenario.name,
            "summary": self.scenario.summary,
            "settings": self.settings,
            "strategies": {p.label: p.figures for p in self.phases},
            "cross_check": {
                p.label: [{**asdict(c), "ok": c.ok} for c in p.checks] for p in self.phases
            },
            "expectations": {
                "passed": not self.expectation_failures,
                "failures": self.expectation_failures,
            },
            "gateway_precision": self.precision,
        }


@contextlib.contextmanager
def emulator(
    time_scale: float,
    backend: str,
    host: str | None,
    ws_url: str | None,
    cafile: str | None,
    lambda_mode: str = "local",
    max_environments: int | None = None,
) -> Iterator[Target]:
    """The emulator to load: the one at ``host``, else one started here on free ports, with at
    most ``max_environments`` execution environments (None: the emulator's default). A running
    emulator keeps its own cap: asking it for another is a ScenarioError."""
    if not host:
        config = StackConfig(
            http_port=0,
            ws_port=0,
            http_api_port=0,
            backend_port=0,
            backend=backend,
            time_scale=time_scale,
            lambda_mode=lambda_mode,
            max_environments=max_environments,
        )
        with StackThread(config) as stack:
            yield Target(stack.rest_url, stack.ws_url)
        return
    rest_url = host.rstrip("/")
    health = Target(rest_url, "", cafile).get("health")
    if health.get("time_scale") != time_scale:
        raise ScenarioError(
            f"the emulator at {host} runs at time scale {health.get('time_scale')}; "
            f"pass --time-scale {health.get('time_scale')}"
        )
    if max_environments and health.get("max_environments") != max_environments:
        raise ScenarioError(
            f"the emulator at {host} runs with --max-environments "
            f"{health.get('max_environments')}; set it where that emulator starts"
        )
    yield Target(rest_url, (ws_url or health["websocket_api"]).rstrip("/"), cafile)


def settle(get: Callable[[str], dict], limit_real_s: float, *, websockets_too: bool = True) -> dict:
    """Wait until no Lambda is running or queued and (``websockets_too``) no WebSocket is open,
    or ``limit_real_s`` real seconds passed; the final ``/_emulator/metrics``
    (``get("metrics")`` reads them)."""
    deadline = time.monotonic() + limit_real_s
    while True:
        metrics = get("metrics")
        functions = metrics["lambda"]["functions"].values()
        busy = any(
            f["running"]
            or f["async_events"].get("accepted", 0)
            > f["async_events"].get("delivered", 0) + f["async_events"].get("dropped", 0)
            for f in functions
        )
        if not busy and not (websockets_too and metrics["websocket"]["current_connections"]):
            return metrics
        if time.monotonic() > deadline:
            return metrics
        time.sleep(0.05)


def run_phase(
    target: Target,
    scenario: Scenario,
    label: str,
    user_classes: tuple[str, ...],
    settings: dict,
    prices: Prices,
) -> PhaseResult:
    scale = settings["time_scale"]
    run_real_s = settings["run_time_s"] * scale
    longest_report_real_s = (max(scenario.delays_ms) / 1000 + 60) * scale
    stages = SHAPES[scenario.shape](settings["users"], settings["spawn_rate"], run_real_s)
    spec = {
        "label": label,
        "user_classes": list(user_classes),
        "stages": [asdict(stage) for stage in stages],
        "stop_timeout_s": longest_report_real_s + 10,
        "locust_args": [
            "--host", target.rest_url, "--ws-url", target.ws_url,
            "--time-scale", str(scale), "--report-rows", str(settings["rows"]),
            "--report-delay", ",".join(str(d) for d in scenario.delays_ms),
            *(["--cafile", target.cafile] if target.cafile else []),
        ],
    }  # fmt: skip
    before = target.get("metrics")
    limit = run_real_s + spec["stop_timeout_s"] + 60
    try:
        # Progress lines go to the console as the phase runs, so stderr is not captured.
        outcome = run_phase_process(spec, limit_s=limit, capture_stderr=False)
    except PhaseTimeout as exc:
        raise ScenarioError(f"phase {label} did not end within {limit:.0f} s") from exc
    except PhaseError as exc:
        raise ScenarioError(str(exc).splitlines()[0]) from exc
    after = settle(target.get, longest_report_real_s + 5)
    usage = Usage.from_metrics(after, before)
    totals = outcome["totals"]
    figures = results.strategy_figures(
        label, outcome["samples"], totals.get(label, {}), usage, price(usage, prices)
    )
    figures["environments"] = results.environment_figures(after, before)
    if idle := totals.get(IDLE_LABEL):
        figures["idle_connections"] = dict(sorted(idle.items()))
    if route := GATEWAY_ROUTES.get(label):
        figures["gateway"] = {
            "route": route,
            "integration_timeouts": delta(
                after, before, f"rest.routes.{route}.integration_timeouts"
            ),
            "latency_max_s": number_at(after, f"rest.routes.{route}.latency_ms_max") / 1000,
        }
    return PhaseResult(label, figures, cross_check(totals, before, after), outcome["samples"])


def run_scenario(
    scenario: Scenario,
    *,
    prices: Prices,
    users: int | None = None,
    spawn_rate: float | None = None,
    run_time_s: float | None = None,
    time_scale: float | None = None,
    backend: str = "moto",
    lambda_mode: str = "local",
    max_environments: int | None = None,
    host: str | None = None,
    ws_url: str | None = None,
    cafile: str | None = None,
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> ScenarioResult:
    settings: dict = {
        "users": users or scenario.users,
        "spawn_rate": spawn_rate or scenario.spawn_rate,
        "run_time_s": run_time_s or scenario.run_time_s,
        "time_scale": time_scale or scenario.time_scale,
        "rows": scenario.rows,
        "delays_s": [d / 1000 for d in scenario.delays_ms],
        "shape": scenario.shape,
        "prices": {"region": prices.region, "checked": prices.checked},
    }
    phases = []
    with emulator(
        settings["time_scale"], backend, host, ws_url, cafile, lambda_mode, max_environments
    ) as target:
        health = target.get("health")
        timeout_s = health["integration_timeout_s"]
        settings.update(
            emulator=target.rest_url,
            integration_timeout_s=timeout_s,
            max_environments=health.get("max_environments"),  # an older emulator has none
        )
        for phase in scenario.phases:
            say(
                f"phase {phase.label}: {settings['users']} users for "
                f"{settings['run_time_s']:g} emulated s "
                f"({settings['run_time_s'] * settings['time_scale']:.1f} s real)"
            )
            phases.append(
                run_phase(target, scenario, phase.label, phase.user_classes, settings, prices)
            )
        precision = target.get("metrics").get("precision")  # an older emulator has none
    samples = [s for p in phases for s in p.samples]
    lateness_max_s = ((precision or {}).get("lateness_s") or {}).get("max")
    failures = [
        why
        for e in scenario.expectations
        if (
            why := results.check_expectation(
                e, samples, timeout_s, lateness_max_s, settings["time_scale"]
            )
        )
    ]
    return ScenarioResult(scenario, settings, phases, failures, precision)
