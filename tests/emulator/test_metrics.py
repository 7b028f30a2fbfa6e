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


def test_websocket_messages_are_billed_in_32_kb_units_either_way():
    metrics = Metrics()
    for direction, size in (("in", 0), ("in", 32768), ("out", 32769), ("out", 100_000)):
        metrics.ws_message(direction, size)
    ws = metrics.snapshot()["websocket"]
    assert (ws["messages_in"], ws["messages_out"]) == (2, 2)
    assert ws["message_units"] == 1 + 1 + 2 + 4
    metrics.reset()
    assert metrics.snapshot()["websocket"]["message_units"] == 0


def test_backend_usage_adds_up_by_service_and_reset_clears_it():
    metrics = Metrics()
    metrics.backend_s3("PutObject", "tier1")
    metrics.backend_s3("GetObject", "tier2")
    metrics.backend_s3("GetObject", "tier2")
    metrics.backend_s3("DeleteObject", "free")
    metrics.backend_dynamodb("GetItem", 0.5, 0.0)
    metrics.backend_dynamodb("PutItem", 0.0, 2.0)
    metrics.backend_other()
    metrics.backend_error(502)
    metrics.backend_error(503)
    assert metrics.snapshot()["backend"] == {
        "s3": {
            "operations": {"DeleteObject": 1, "GetObject": 2, "PutObject": 1},
            "tier1_requests": 1,
            "tier2_requests": 2,
            "free_requests": 1,
        },
        "dynamodb": {
            "operations": {"GetItem": 1, "PutItem": 1},
            "read_request_units": 0.5,
            "write_request_units": 2.0,
        },
        "other_requests": 1,
        "errors": {"502": 1, "503": 1},
    }
    metrics.reset()
    backend = metrics.snapshot()["backend"]
    assert (backend["s3"]["tier1_requests"], backend["dynamodb"]["operations"]) == (0, {})
    assert backend["errors"] == {}
