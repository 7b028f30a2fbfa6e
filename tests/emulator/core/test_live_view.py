"""The live view's figures (emulator.core.live_view), from metrics snapshots, with no server."""

from emulator.core.invocations import InvocationRecord, Outcome
from emulator.core.live_view import LiveFigures, changes, live_figures
from emulator.metrics import Metrics


class Now:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def record(function: str, request_id: str, started: float) -> InvocationRecord:
    return InvocationRecord(
        request_id=request_id, function=function, started_at=started, timeout=900, memory_mb=1024
    )


def test_an_idle_emulator_shows_zeros():
    assert live_figures(Metrics().snapshot()) == LiveFigures()


def test_running_abandoned_wasted_and_connections_come_from_the_snapshot():
    now = Now()
    metrics = Metrics(now)
    cut = record("report", "r1", 0.0)  # a REST request cut at 29 s: its Lambda runs on
    waiting = record("report", "r2", 0.0)
    pushed = record("deliver", "r3", 0.0)
    for invocation in (cut, waiting, pushed):
        metrics.invocation_started(invocation)
    metrics.ws_opened("conn-1")
    metrics.integration_timeout_answered(29.0, 29.0)
    now.t = 29.0
    cut.caller_gone(now.t)
    metrics.async_event("deliver", "retried")
    metrics.async_event("deliver", "retried")
    metrics.async_event("deliver", "accepted")

    during = live_figures(metrics.snapshot(), async_pending=1)
    assert during == LiveFigures(
        websocket_connections_now=1,
        lambdas_running_now=3,
        lambdas_abandoned_now=1,
        integration_timeouts=1,
        async_retries=2,
        async_pending_now=1,
        running=(("deliver", 1), ("report", 2)),
    )

    now.t = 40.0
    cut.finish(now.t, Outcome.SUCCESS)
    metrics.invocation_finished(cut)
    after = live_figures(metrics.snapshot())
    assert after.lambdas_running_now == 2
    assert after.lambdas_abandoned_now == 0
    assert after.lambda_billed_ms == cut.billed_ms == 40_000
    assert after.lambda_wasted_ms == 40_000  # billed after its caller had gone: all of it
    assert after.running == (("deliver", 1), ("report", 1))


def test_the_first_change_is_everything_then_only_what_changed():
    first = LiveFigures(lambdas_running_now=1, running=(("report", 1),))
    everything = changes(None, first)
    assert everything == {
        **LiveFigures().as_dict(),
        "lambdas_running_now": 1,
        "running": {"report": 1},
    }
    assert changes(first, first) == {}
    later = LiveFigures(lambdas_running_now=0, integration_timeouts=1)
    assert changes(first, later) == {
        "lambdas_running_now": 0,
        "integration_timeouts": 1,
        "running": {},
    }
