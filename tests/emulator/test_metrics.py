from emulator.clock import ManualClock
from emulator.core.invocations import InvocationRecord, Outcome
from emulator.metrics import Metrics


def test_requests_and_invocations_add_up_and_reset_clears_them():
    clock, metrics = ManualClock(), Metrics()
    metrics.record_request("POST /reports", 200, 5000)
    metrics.record_request("POST /reports", 504, 29000, integration_timeout=True)
    record = InvocationRecord("r1", "fn", clock.now(), 900, 1024)
    metrics.invocation_started(record)
    running = metrics.snapshot()["lambda"]["functions"]["fn"]
    assert (running["invocations"], running["running"]) == (1, 1)
    clock.advance(29)
    record.caller_gone(clock.now())
    assert metrics.snapshot()["lambda"]["functions"]["fn"]["running_after_caller_gone"] == 1
    clock.advance(11)
    record.finish(clock.now(), Outcome.SUCCESS)
    metrics.invocation_finished(record)

    snapshot = metrics.snapshot()
    route = snapshot["rest"]["routes"]["POST /reports"]
    assert route["status_counts"] == {"200": 1, "504": 1}
    assert route["integration_timeouts"] == 1
    assert route["latency_ms_avg"] == 17000
    fn = snapshot["lambda"]["functions"]["fn"]
    assert (fn["running"], fn["billed_ms"], fn["wasted_ms"]) == (0, 40000, 40000)
    assert fn["after_caller_gone_ms"] == 11000
    assert fn["gb_seconds"] == 40.0

    metrics.reset()
    assert metrics.snapshot()["rest"]["requests"] == 0
    assert metrics.snapshot()["lambda"]["functions"] == {}
