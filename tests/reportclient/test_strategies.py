"""Each strategy against the running emulator, its costs checked against the emulator's own
metrics: what the client counted at its sockets must be what the gateway counted at its own."""

import json
import ssl
import threading
import time

import httpx
import pytest
from httpx_sse import connect_sse

from emulator.stack import StackThread
from reportclient import STRATEGIES, Endpoints, fetch_report
from tests.support import HANDLER_SCALE, aws_client, stack_config, write_service


@pytest.fixture(scope="module")
def stack(moto_server):
    # Prewarmed: a cold start's real Init would read as 20x its length on the client's clock.
    config = stack_config(moto_server.endpoint_url, time_scale=HANDLER_SCALE, prewarm=True)
    with StackThread(config) as running:
        yield running


DELIVER = "timeoutlab-reports-dev-deliverReport"


def quiet(stack) -> None:
    """Wait until nothing runs, then zero the counters."""
    stack.wait_idle()
    stack.metrics.reset()


def settle(stack) -> dict:
    """The emulator's figures once nothing runs any more."""
    stack.wait_idle()
    return stack.metrics.snapshot()


def until(condition, what: str, hang_guard_s: float = 30.0) -> None:
    """Wait for ``condition()``; the limit only keeps a broken run from hanging."""
    deadline = time.monotonic() + hang_guard_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.005)


def fetch(stack, strategy, delay_s, **options):
    endpoints = Endpoints(stack.rest_url, stack.ws_url)
    definition = {"delay": int(delay_s * 1000), "amountOfRows": 7}
    return fetch_report(strategy, endpoints, definition, time_scale=HANDLER_SCALE, **options)


EXPECTED = {  # strategy -> outcome for the 40 s report
    "rest": "gateway_timeout",
    "short_poll": None,
    "long_poll": None,
    "sse": "gateway_timeout",  # buffered: the article's world
    "websocket": None,
}


@pytest.mark.parametrize("delay_s", [5, 40])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_on_short_and_long_jobs_with_costs_that_agree(stack, strategy, delay_s):
    quiet(stack)
    result = fetch(stack, strategy, delay_s)
    metrics = settle(stack)
    costs = result.costs

    expected_failure = EXPECTED[strategy] if delay_s == 40 else None
    if expected_failure is None:
        assert result.ok, result.failure
        assert httpx.get(result.url).text.count("\n") == 8  # header + 7 rows
        assert costs.time_to_result_s >= delay_s
    else:
        assert result.failure.kind == expected_failure
        assert costs.time_to_result_s >= 29  # never early

    if strategy == "websocket":
        ws = metrics["websocket"]
        assert costs.tcp_connections == ws["connections_opened"] == 1
        assert costs.bytes_sent == ws["wire_bytes_in"]
        assert costs.bytes_received == ws["wire_bytes_out"]
        assert costs.ws_messages_sent == ws["messages_in"]
        assert costs.ws_messages_received == ws["messages_out"]
        assert costs.ws_message_units == ws["message_units"] == 3  # small: one unit each
        # open until the result came and the client closed, as the gateway bills it (connection
        # minutes); the two sides start counting before and after the handshake
        # (how far apart the two are is real time, so only that neither is short is asserted)
        assert costs.ws_connection_s >= delay_s
        assert ws["connection_minutes"] * 60 >= delay_s
        assert costs.http_requests == 0
    else:
        rest = metrics["rest"]
        assert costs.tcp_connections == rest["tcp_connections"] == 1
        assert costs.http_requests == rest["requests"]
        assert costs.bytes_sent == rest["wire_bytes_in"]
        assert costs.bytes_received == rest["wire_bytes_out"]
        assert metrics["websocket"]["connections_opened"] == 0
        assert costs.ws_connection_s == costs.ws_message_units == 0


def test_short_polling_counts_its_empty_polls(stack):
    quiet(stack)
    result = fetch(stack, "short_poll", 10, poll_interval=2.0)
    assert result.ok
    # About one every 2 s for 10 s, fewer if the machine is slow: only the first is certain.
    assert result.costs.empty_polls >= 1
    assert result.costs.http_requests == result.costs.empty_polls + 2  # the POST and the answer
    rest = settle(stack)["rest"]
    assert rest["routes"]["GET /reports/jobs/{jobId}"]["requests"] == result.costs.empty_polls + 1


def test_long_polls_are_held_but_never_cut_by_the_gateway(stack):
    quiet(stack)
    result = fetch(stack, "long_poll", 40, long_poll_wait=300)  # asks for more than allowed
    assert result.ok
    route = settle(stack)["rest"]["routes"]["GET /reports/jobs/{jobId}"]
    assert route["integration_timeouts"] == 0  # capped at 20 s by the handler
    assert route["latency_ms_max"] >= 15_000  # and really held
    assert result.costs.empty_polls >= 1


def test_sse_with_response_streaming_delivers_the_40_second_report(stack):
    quiet(stack)
    result = fetch(stack, "sse", 40, sse_streaming=True)
    assert result.ok, result.failure
    assert result.costs.time_to_result_s >= 40
    rest = settle(stack)["rest"]
    assert rest["integration_timeouts"] == 0
    assert result.costs.bytes_received == rest["wire_bytes_out"]


def test_sse_resumes_after_the_last_event_id(stack):
    quiet(stack)
    with httpx.Client() as client:
        job = client.post(
            f"{stack.rest_url}/reports/jobs", json={"delay": 20000, "amountOfRows": 1}
        )
        url = f"{stack.rest_url}/reports/jobs/{job.json()['jobId']}/events/stream"
        with connect_sse(client, "GET", url) as source:
            first = []
            for event in source.iter_sse():
                first.append((int(event.id), event.event))
                if int(event.id) >= 30:
                    break  # the client drops the stream mid-job
        last_id = first[-1][0]
        with connect_sse(client, "GET", url, headers={"Last-Event-ID": str(last_id)}) as source:
            resumed = [(int(e.id), e.event) for e in source.iter_sse()]
    assert [kind for _, kind in first] == ["progress"] * len(first)
    assert all(event_id > last_id for event_id, _ in resumed), "no event is sent twice"
    assert resumed[-1] == (101, "result")
    ids = [event_id for event_id, _ in first + resumed]
    assert ids == sorted(ids)


def test_a_websocket_dropped_by_the_server_mid_job_still_delivers_after_reconnect(stack):
    quiet(stack)
    management = aws_client("apigatewaymanagementapi", stack.connections_url)
    results = []
    client = threading.Thread(target=lambda: results.append(fetch(stack, "websocket", 40)))
    client.start()

    def accepted_and_running() -> bool:  # the client has its job id; the report is being made
        metrics = stack.metrics.snapshot()
        running = metrics["lambda"]["functions"].get(DELIVER, {}).get("running", 0)
        return running > 0 and metrics["websocket"]["messages_out"] >= 1

    until(accepted_and_running, "the job's start")
    (connection_id,) = stack.websocket.connections
    management.delete_connection(ConnectionId=connection_id)
    client.join(timeout=30)
    (result,) = results
    assert result.ok, result.failure
    assert result.costs.reconnects == 1
    assert result.costs.tcp_connections == 2
    assert result.costs.time_to_result_s >= 40
    ws = settle(stack)["websocket"]
    assert ws["connections_opened"] == 2
    assert result.costs.bytes_sent == ws["wire_bytes_in"]
    assert result.costs.bytes_received == ws["wire_bytes_out"]


#: The long polls' wait in the step test (emulated seconds): 19 s short of the 29 s integration
#: timeout, about 1 s real at HANDLER_SCALE, so that no poll there is cut by a busy machine's
#: processing time (the default 20 s leaves 0.45 s real, which several test workers beside each
#: other on two cores have eaten). This test is about the steps told, not the wait.
STEPS_LONG_POLL_WAIT_S = 10

STEPS = {  # strategy -> the (kind, name, failed) steps of one 40 s report, in order, polls merged
    "rest": [("connect", "tcp", False), ("request", "POST /reports", True)],
    "short_poll": [
        ("connect", "tcp", False),
        ("request", "POST /reports/jobs", False),
        ("poll", "GET /reports/jobs/{id}", False),
    ],
    "long_poll": [
        ("connect", "tcp", False),
        ("request", "POST /reports/jobs", False),
        ("poll", f"GET /reports/jobs/{{id}}?waitSeconds={STEPS_LONG_POLL_WAIT_S}", False),
    ],
    "sse": [
        ("connect", "tcp", False),
        ("request", "POST /reports/jobs", False),
        ("request", "GET /reports/jobs/{id}/events", True),
    ],
    "websocket": [
        ("connect", "websocket", False),
        ("message", "accepted", False),
        ("message", "result", False),
    ],
}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_step_is_told_as_it_ends_with_its_time_and_bytes(stack, strategy):
    steps = []
    result = fetch(stack, strategy, 40, on_step=steps.append, long_poll_wait=STEPS_LONG_POLL_WAIT_S)
    merged = [(s.kind, s.name, s.error is not None) for s in steps]
    merged = [step for i, step in enumerate(merged) if i == 0 or step != merged[i - 1]]
    assert merged == STEPS[strategy]
    assert sum(s.kind == "connect" for s in steps) == result.costs.tcp_connections
    if strategy in ("short_poll", "long_poll"):
        polls = [s for s in steps if s.kind == "poll"]
        assert len(polls) == result.costs.empty_polls + 1
    failed = [s for s in steps if s.error]
    assert all(s.error == "HTTP 504" and s.elapsed_s >= 29 for s in failed)
    last = steps[-1]
    assert last.bytes_received > 0
    # Each step is timed in emulated seconds; none outlasts the report.
    assert all(0 <= s.elapsed_s <= result.costs.time_to_result_s for s in steps)
    if strategy == "websocket":
        assert last.elapsed_s >= 40  # the result, timed from the message that asked for it


@pytest.mark.parametrize("strategy", ["rest", "short_poll", "sse"])
def test_reports_over_http_share_one_verifying_ssl_context(stack, strategy, monkeypatch):
    # Making a context parses the whole CA bundle (about 20 ms of CPU): once per report, it
    # was a load test's largest client cost, inside the time to result it measures.
    made: list[ssl.SSLContext] = []
    original = ssl.create_default_context

    def counted(*args, **kwargs) -> ssl.SSLContext:
        made.append(original(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(ssl, "create_default_context", counted)
    results = [fetch(stack, strategy, 0) for _ in range(3)]
    assert all(result.ok for result in results), [r.failure for r in results]
    assert len(made) <= 1  # at most the first report makes it; every later one shares it


def test_unknown_strategies_are_refused():
    with pytest.raises(ValueError, match="choose one of rest, short_poll"):
        fetch_report("carrier_pigeon", Endpoints("http://x", "ws://x"), {})


def test_get_report_for_an_unknown_job_says_so(stack):
    from websockets.sync.client import connect

    with connect(stack.ws_url) as ws:
        ws.send(json.dumps({"action": "getReport", "jobId": "no-such-job"}))
        assert json.loads(ws.recv(timeout=10))["error"] == 'job "no-such-job" not found'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{nope", "request body must be a JSON report definition"),
        (b'{"delay": -1, "amountOfRows": 1}', "'delay' must be between 0 and 900000"),
    ],
)
def test_the_job_api_refuses_bad_definitions_with_400(stack, body, message):
    response = httpx.post(f"{stack.rest_url}/reports/jobs", content=body)
    assert response.status_code == 400
    assert message in response.json()["message"]
    bad_wait = httpx.get(f"{stack.rest_url}/reports/jobs/any?waitSeconds=soon")
    assert bad_wait.status_code == 400
    assert "waitSeconds must be a whole number" in bad_wait.json()["message"]
    assert httpx.get(f"{stack.rest_url}/reports/jobs/unknown-job").status_code == 404


AUTH_HANDLERS = """
def auth(event, context):
    allowed = (event.get("headers") or {}).get("Auth") == "good"
    return {
        "principalId": "user",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke",
                           "Effect": "Allow" if allowed else "Deny",
                           "Resource": event["methodArn"]}],
        },
    }


def connect(event, context):
    return {"statusCode": 200}
"""

AUTH_FUNCTIONS = """
auth:
  handler: app.auth
connect:
  handler: app.connect
  events:
    - websocket:
        route: $connect
        authorizer: {name: auth, identitySource: [route.request.header.Auth]}
"""


def test_a_refused_websocket_handshake_is_reported_with_its_status(moto_server, tmp_path):
    # No Auth header: API Gateway refuses the $connect handshake with 401 before any route runs;
    # the client must say so, not report a connection lost before the job was accepted.
    service = write_service(tmp_path, AUTH_HANDLERS, AUTH_FUNCTIONS)
    config = stack_config(moto_server.endpoint_url, service_path=service)
    with StackThread(config) as refusing:
        result = fetch_report(
            "websocket",
            Endpoints(refusing.rest_url, refusing.ws_url),
            {"delay": 1000, "amountOfRows": 1},
            time_scale=config.time_scale,
        )
    assert not result.ok
    assert result.failure is not None
    assert (result.failure.kind, result.failure.status) == ("http_error", 401), result.failure
    assert "handshake refused with HTTP 401" in result.failure.detail
    assert result.costs.reconnects == 0
