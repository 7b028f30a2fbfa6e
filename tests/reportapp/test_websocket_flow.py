"""The article's fix end to end: the 40 s report over the WebSocket API, on a real moto server."""

import csv
import io
import json
import time

import httpx
import pytest
from websockets.sync.client import connect

from emulator.stack import StackThread
from tests.support import stack_config

import connections_table

DELIVER = "timeoutlab-reports-dev-deliverReport"
#: Hang guard for a handshake or a reply (real seconds): a cold $connect, $default or
#: generateReport (the stack is not prewarmed) takes seconds on a loaded machine.
WAIT_S = 60.0


@pytest.fixture(scope="module")
def stack(moto_server):
    with StackThread(stack_config(moto_server.endpoint_url)) as running:
        yield running


@pytest.fixture
def table(stack):
    return stack.backend.client("dynamodb"), stack.service.tables[0].name


def item(table, connection_id):
    client, name = table
    return client.get_item(TableName=name, Key={"connectionId": {"S": connection_id}}).get("Item")


def until(condition, seconds=30.0):
    """Whether ``condition()`` comes true (DynamoDB is polled); ``seconds`` is only a hang
    guard, far longer than any of these waits takes on a loaded machine."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def connection_of(stack, before: set[str]) -> str:
    """The id of the one connection opened since ``before`` was taken."""
    (connection_id,) = set(stack.websocket.connections) - before
    return connection_id


def delivered(stack) -> int:
    """How many reports the deliverReport Lambda has finished making."""
    functions = stack.metrics.snapshot()["lambda"]["functions"]
    return functions.get(DELIVER, {}).get("outcomes", {}).get("success", 0)


def request(ws, **definition) -> dict:
    ws.send(json.dumps({"action": "generateReport", **definition}))
    return json.loads(ws.recv(timeout=WAIT_S))


def test_the_40_second_report_is_delivered_over_the_websocket(stack):
    # Warm the functions: cold starts are not the point here.
    with connect(stack.ws_url, open_timeout=WAIT_S) as ws:
        request(ws, delay=0, amountOfRows=1)
        assert "url" in json.loads(ws.recv(timeout=30))
    stack.wait_idle()  # the warm-up's deliverReport has ended, not only posted its url
    delivered_before = delivered(stack)
    with connect(stack.ws_url, open_timeout=WAIT_S) as ws:
        started = time.monotonic()
        accepted = request(ws, delay=40_000, amountOfRows=321)
        assert accepted["status"] == "accepted"
        # At once, not after the report: when the answer came, the report was not made yet.
        assert delivered(stack) == delivered_before, "generateReport waited for the report"
        result = json.loads(ws.recv(timeout=30))
        elapsed = stack.clock.to_emulated(time.monotonic() - started)
    assert result["jobId"] == accepted["jobId"]
    assert elapsed >= 40  # never early
    rows = list(csv.reader(io.StringIO(httpx.get(result["url"]).text)))
    assert len(rows) - 1 == 321
    fns = stack.metrics.snapshot()["lambda"]["functions"]
    deliver = fns[DELIVER]
    assert deliver["async_events"]["delivered"] >= 1
    assert deliver["wasted_ms"] == 0


def test_bad_definitions_and_unknown_actions_are_answered_with_error(stack):
    with connect(stack.ws_url, open_timeout=WAIT_S) as ws:
        assert (
            "'delay' must be between 0 and 900000" in request(ws, delay=-5, amountOfRows=1)["error"]
        )
        assert "'amountOfRows' is required" in request(ws, delay=5)["error"]
        ws.send(json.dumps({"action": "deleteEverything"}))
        reply = json.loads(ws.recv(timeout=WAIT_S))
        assert reply["error"] == 'action "deleteEverything" is not supported'
        assert reply["supportedActions"] == ["generateReport", "getReport"]
        ws.send("plain text")
        assert "not supported" in json.loads(ws.recv(timeout=WAIT_S))["error"]


def test_connect_stores_the_connection_with_a_ttl_and_disconnect_removes_it(stack, table):
    before = set(stack.websocket.connections)
    asked = stack.clock.epoch()
    with connect(stack.ws_url, open_timeout=WAIT_S):
        connected = stack.clock.epoch()
        connection_id = connection_of(stack, before)
        stored = item(table, connection_id)
        assert stored is not None
        ttl = int(stored["ttl"]["N"])
        # An hour after $connect ran (emulated epoch seconds, whole): between the two readings.
        assert int(asked) + 3600 <= ttl <= connected + 3600
    assert until(lambda: item(table, connection_id) is None), "$disconnect did not remove it"


def test_readers_ignore_expired_items_that_dynamodb_has_not_deleted_yet(stack, table, monkeypatch):
    # The handler module runs here, in the test's process, with a function's environment (its
    # own environments are processes of their own; the test's environment is left as it was).
    function = next(iter(stack.service.functions.values()))
    handler_environment = {**stack.runtime.environment, **function.environment}
    for variable, value in {**handler_environment, "AWS_REGION": stack.service.region}.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setattr(connections_table, "_table", connections_table._table.__wrapped__)
    client, name = table
    past = int(stack.clock.epoch()) - 10
    client.put_item(
        TableName=name,
        Item={"connectionId": {"S": "Expired00000001="}, "ttl": {"N": str(past)}},
    )
    client.put_item(
        TableName=name,
        Item={"connectionId": {"S": "Current00000001="}, "ttl": {"N": str(past + 3600)}},
    )
    assert item(table, "Expired00000001=") is not None  # still stored ...
    assert connections_table.is_open("Expired00000001=") is False  # ... but not open
    assert connections_table.is_open("Current00000001=") is True


def job_status(stack, job_id: str) -> str:
    client = stack.backend.client("dynamodb")
    (jobs,) = [t.name for t in stack.service.tables if "jobs" in t.name]
    key = {"jobId": {"S": job_id}}
    return client.get_item(TableName=jobs, Key=key, ConsistentRead=True)["Item"]["status"]["S"]


def test_a_report_for_a_connection_that_went_away_removes_its_stale_record(stack, table):
    client, name = table
    # The report must reach its delivery only once the stale record is back: if it looked the
    # connection up between $disconnect's delete and the put below, it would find none and
    # rightly post nothing. deliverReport marks its job succeeded before it looks: a job still
    # running once the record is back is one whose delivery will see it. A machine so loaded that
    # the report is done first gets the same story again with a longer report.
    for delay_s in (20, 80, 320):  # emulated: 0.4, 1.6 and 6.4 s real
        before = set(stack.websocket.connections)
        with connect(stack.ws_url, open_timeout=WAIT_S) as ws:
            job_id = request(ws, delay=delay_s * 1000, amountOfRows=1)["jobId"]
            connection_id = connection_of(stack, before)
        assert until(lambda key=connection_id: item(table, key) is None), "$disconnect: not removed"
        # A $disconnect that never ran (it is best effort on AWS) leaves a record behind:
        client.put_item(
            TableName=name,
            Item={
                "connectionId": {"S": connection_id},
                "ttl": {"N": str(int(stack.clock.epoch()) + 3600)},
            },
        )
        if job_status(stack, job_id) in ("pending", "running"):
            break
        stack.wait_idle()  # too late for this one: its delivery may have looked already
        client.delete_item(TableName=name, Key={"connectionId": {"S": connection_id}})
    else:
        raise AssertionError("every report was made before its connection's record was back")
    # The report Lambda posts, gets GoneException, and forgets the connection.
    assert until(lambda: item(table, connection_id) is None)
    calls = stack.metrics.snapshot()["websocket"]["management_calls"]
    assert calls.get("POST 410", 0) >= 1


DEEP = "[" * 1000 + "]" * 1000  # past Python's recursion limit in json


def test_json_nested_1000_deep_is_answered_400_on_rest_and_an_error_on_websocket(stack):
    """json raises RecursionError, not ValueError, for it: the handlers answer as for any body
    that is not a report definition, never 502 / "Internal server error"."""
    answer = httpx.post(f"{stack.rest_url}/reports", content=DEEP, timeout=30)
    assert answer.status_code == 400
    assert answer.json() == {"message": "request body must be a JSON report definition"}
    jobs = httpx.post(f"{stack.rest_url}/reports/jobs", content=DEEP, timeout=30)
    assert (jobs.status_code, jobs.json()["message"]) == (
        400,
        "request body must be a JSON report definition",
    )
    with connect(stack.ws_url, open_timeout=WAIT_S) as ws:
        ws.send(DEEP)  # the gateway routes it to $default
        assert json.loads(ws.recv(timeout=WAIT_S))["error"] == (
            "a message without an action is not supported"
        )
