import pytest

from emulator.clock import ManualClock
from emulator.core.invocations import InvocationRecord, Outcome
from emulator.metrics import PRECISION_WINDOW, Metrics, format_overhead_warning


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


def test_precision_figures_are_summarised_in_emulated_seconds_and_reset():
    clock, metrics = ManualClock(), Metrics()
    empty = metrics.snapshot()["precision"]
    assert empty["integration_timeouts"] == 0
    assert empty["lateness_s"] == {"median": None, "max": None, "samples": 0}
    assert empty["overhead_s"] == {"median": None, "p95": None, "samples": 0}

    for late in (0.5, 0.125, 0.25):
        metrics.integration_timeout_answered(deadline=29.0, answered_at=29.0 + late)
    metrics.connection_limit_close(deadline=600.0, closed_at=600.0625)
    for i, added in enumerate((0.01, 0.02, 0.03, 0.04)):
        record = InvocationRecord(f"r{i}", "fn", clock.now() + 1.0, 900, 1024)
        record.finish(record.started_at + 5.0, Outcome.SUCCESS)
        metrics.lambda_answered(clock.now(), clock.now() + 1.0 + 5.0 + added, record)

    figures = metrics.snapshot()["precision"]
    assert figures["integration_timeouts"] == 3
    assert figures["lateness_s"] == {"median": 0.25, "max": 0.5, "samples": 3}
    assert figures["connection_limit_closes"] == 1
    assert figures["close_lateness_s"] == {"median": 0.0625, "max": 0.0625, "samples": 1}
    # the receiving, the start of the Lambda (1 s later here) and the answering are the gateway's
    assert figures["overhead_s"] == {"median": 1.025, "p95": 1.04, "samples": 4}

    metrics.reset()
    assert metrics.snapshot()["precision"] == empty


def test_an_overhead_over_two_percent_of_the_timeout_is_a_warning_naming_the_scale():
    clock, metrics = ManualClock(), Metrics()
    assert format_overhead_warning(metrics.snapshot()["precision"], 29.0, 0.1) is None
    for i, added in enumerate((0.2, 0.4, 0.6, 0.8)):
        record = InvocationRecord(f"r{i}", "fn", clock.now(), 900, 1024)
        record.finish(record.started_at + 5.0, Outcome.SUCCESS)
        metrics.lambda_answered(clock.now(), clock.now() + 5.0 + added, record)
    figures = metrics.snapshot()["precision"]
    assert figures["overhead_s"]["p95"] == pytest.approx(0.8)
    # 0.8 s is 2.8 % of 29 s: 80 ms real at scale 0.1, within 2 % (0.58 s) from 0.14 on.
    assert format_overhead_warning(figures, 29.0, 0.1) == (
        "WARNING: processing overhead p95 0.80 s is 2.8 % of the 29 s integration timeout "
        "(over 2 %): the emulator's own real-time processing, stretched by 1/scale, distorts "
        "the emulated times; --time-scale 0.14 or more (now 0.1) keeps it within 2 %"
    )
    assert format_overhead_warning(figures, 40.0, 0.1) is None  # 2.0 % of 40 s: within


def test_precision_keeps_the_latest_samples_and_the_largest_ever():
    metrics = Metrics()
    metrics.integration_timeout_answered(0.0, 100.0)
    for _ in range(PRECISION_WINDOW):
        metrics.integration_timeout_answered(0.0, 1.0)
    figures = metrics.snapshot()["precision"]
    assert figures["lateness_s"] == {"median": 1.0, "max": 100.0, "samples": PRECISION_WINDOW + 1}
