"""Nothing accepted is lost silently: a WebSocket job whose delivery finally fails is marked
failed and its client told (deliverReport's onFailure destination, deliveryFailed), and a moto
server killed under 30 jobs leaves none of them without an answer."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.sync.client import connect as sync_connect

from emulator.backends.moto_server import free_port
from emulator.stack import StackThread
from tests.support import LOAD_SCALE, stack_config

import jobs_table
import report

#: Hang guard for one client's wait (real seconds): far beyond any wait here on a loaded machine.
WAIT_S = 90.0
DELIVER = "timeoutlab-reports-dev-deliverReport"


@pytest.fixture(scope="module")
def stack(moto_server):
    with StackThread(stack_config(moto_server.endpoint_url)) as running:
        yield running


@pytest.fixture
def handler_environment(stack, monkeypatch):
    """The report handlers, imported in this process, with a function's environment (its
    endpoints: the usage proxy in front of moto, this stack's @connections)."""
    function = stack.service.functions["deliveryFailed"]
    for variable, value in {
        **stack.runtime.environment,
        **function.environment,
        "AWS_REGION": stack.service.region,
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setattr(jobs_table, "_table", jobs_table._table.__wrapped__)
    monkeypatch.setattr(report, "_management_api", report._management_api.__wrapped__)
    import connections_table

    monkeypatch.setattr(connections_table, "_table", connections_table._table.__wrapped__)


def failure_record(job_id: str, connection_id: str, callback_url: str) -> dict:
    """The onFailure record deliverReport's last failed attempt makes (as the emulator makes it:
    invocation-async-retain-records.html)."""
    return {
        "version": "1.0",
        "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": {
            "jobId": job_id,
            "definition": {"delay": 0, "amountOfRows": 1},
            "callbackUrl": callback_url,
            "connectionId": connection_id,
        },
        "responsePayload": {"errorMessage": "An error occurred (502) when calling PutItem"},
    }


def open_connection(stack) -> tuple[object, str]:
    before = set(stack.websocket.connections)
    ws = sync_connect(stack.ws_url, open_timeout=WAIT_S)  # its $connect may cold-start
    deadline = time.monotonic() + WAIT_S
    while not (set(stack.websocket.connections) - before) and time.monotonic() < deadline:
        time.sleep(0.01)
    (connection_id,) = set(stack.websocket.connections) - before
    return ws, connection_id


def test_a_job_whose_delivery_failed_is_marked_failed_and_its_client_told(
    stack, handler_environment
):
    ws, connection_id = open_connection(stack)
    with ws:
        jobs_table.create("job-failed-1", {"delay": 0, "amountOfRows": 1}, connection_id)
        outcome = report.delivery_failed(
            failure_record("job-failed-1", connection_id, stack.connections_url), None
        )
        assert outcome == {"marked": True, "told": True}
        message = json.loads(ws.recv(timeout=WAIT_S))
    assert message["jobId"] == "job-failed-1"
    assert "RetriesExhausted" in message["error"]
    assert "502" in message["error"]
    job = jobs_table.public(jobs_table.get("job-failed-1"))
    assert job["status"] == "failed"
    assert job["error"] == message["error"]


def test_a_job_that_cannot_be_marked_failed_says_so_in_one_line_and_the_client_is_still_told(
    stack, handler_environment, monkeypatch, capsys
):
    ws, connection_id = open_connection(stack)
    closed_port = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", closed_port)  # the backend is down
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with ws:
        outcome = report.delivery_failed(
            failure_record("job-failed-2", connection_id, stack.connections_url), None
        )
        message = json.loads(ws.recv(timeout=WAIT_S))
    assert outcome == {"marked": False, "told": True}
    assert message["jobId"] == "job-failed-2"
    assert "error" in message
    lines = [line for line in capsys.readouterr().out.splitlines() if "job-failed-2" in line]
    assert len(lines) == 1
    assert lines[0].startswith("job job-failed-2: could not be marked failed: ")


def test_a_failed_delivery_to_a_client_that_left_is_logged_with_the_job_id(
    stack, handler_environment, capsys
):
    ws, connection_id = open_connection(stack)
    with ws:
        pass  # the client leaves
    deadline = time.monotonic() + WAIT_S
    while connection_id in stack.websocket.connections and time.monotonic() < deadline:
        time.sleep(0.01)
    outcome = report.delivery_failed(
        failure_record("job-failed-3", connection_id, stack.connections_url), None
    )
    assert outcome == {"marked": True, "told": False}
    out = capsys.readouterr().out
    assert f"job job-failed-3: connection {connection_id} is gone; the client was not told" in out
    assert jobs_table.get("job-failed-3")["status"] == "failed"


# -- moto killed under 30 jobs -----------------------------------------------------------------

JOBS = 30
#: Execution environments at once: 30 cold starts on two cores would be the test's whole time.
ENVIRONMENTS = 6


async def _accepted(ws: ClientConnection) -> dict:
    """Ask for a report; the route's reply (``{"jobId", "status": "accepted"}``)."""
    await ws.send(json.dumps({"action": "generateReport", "delay": 10_000, "amountOfRows": 5}))
    return json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))


async def _answer(ws: ClientConnection, job_id: str) -> tuple[str, dict]:
    """Wait for the message that answers the job: ("url" | "error", that message)."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
        if message.get("jobId") == job_id and ("url" in message or "error" in message):
            return ("url" if "url" in message else "error"), message


async def _refused(reply: dict) -> tuple[str, dict]:
    return "refused", reply


async def _thirty_jobs_with_moto_killed(stack) -> list[tuple[str, dict]]:
    """30 clients ask for a report each, one after the other; moto is killed once all are
    accepted, with their deliveries running, waiting for an environment, or done."""
    clients = [await connect(stack.ws_url) for _ in range(JOBS)]
    try:
        answers = []
        for ws in clients:
            reply = await _accepted(ws)
            if "jobId" not in reply:  # the route itself failed (a loaded machine): no job
                assert "message" in reply, reply
                answers.append(asyncio.ensure_future(_refused(reply)))
                continue
            assert reply.get("status") == "accepted", reply
            answers.append(asyncio.ensure_future(_answer(ws, reply["jobId"])))
        os.kill(stack.backend.pid, signal.SIGKILL)
        return list(await asyncio.gather(*answers))
    finally:
        for ws in clients:
            await ws.close()


def test_moto_killed_under_30_websocket_jobs_leaves_no_accepted_job_unanswered():
    config = stack_config(
        "moto",
        backend="moto",
        backend_port=0,
        time_scale=LOAD_SCALE,
        max_environments=ENVIRONMENTS,
    )
    with StackThread(config) as stack:
        # Warm the functions: a cold start is not what this test is about.
        with sync_connect(stack.ws_url, open_timeout=WAIT_S) as ws:  # a cold $connect
            ws.send(json.dumps({"action": "generateReport", "delay": 0, "amountOfRows": 1}))
            accepted = json.loads(ws.recv(timeout=WAIT_S))
            assert "url" in json.loads(ws.recv(timeout=WAIT_S)), accepted
        stack.metrics.reset()
        killed_pid = stack.backend.pid

        outcomes = asyncio.run(_thirty_jobs_with_moto_killed(stack))

        assert stack.backend.restarts == 1
        assert stack.backend.pid != killed_pid
        kinds = [kind for kind, _ in outcomes]
        assert len(kinds) == JOBS  # every client got a url or an error
        jobs = stack.metrics.snapshot()["websocket"]["jobs"]
        assert kinds.count("url") + kinds.count("error") >= 1
        assert jobs == {
            "accepted": JOBS - kinds.count("refused"),
            "answered_url": kinds.count("url"),
            "answered_error": kinds.count("error"),
            "unanswered": 0,
        }
        # Deliveries caught by the kill were retried (an error, then a url on the restarted
        # backend) or ended in deliveryFailed's error message; either way, answered.
        deliver = stack.metrics.snapshot()["lambda"]["functions"][DELIVER]
        assert deliver["errors"] >= 1, deliver
