"""Asynchronous invocation settings and destinations, on a virtual clock.

Each function of one inline service has its own ``maximumRetryAttempts``, ``maximumEventAge``
and ``destinations``; events go in through the Invoke API (as boto3 sends them, on the stack's
loop) and the ``audit`` function, a destination, notes each invocation record it gets and when.
Retry and age timing is asserted to the emulated second (tests/virtual.py), never slept for.
"""

import asyncio
import json
import logging
from datetime import datetime

import aiohttp
import pytest

from tests.support import sigv4_headers
from tests.virtual import run_virtual, service_file, virtual_stack

EXACT = 1e-6
INVOKE = "/2015-03-31/functions/{name}/invocations"
AUDIT_ARN = "arn:aws:lambda:us-east-1:000000000000:function:inline-dev-audit"

FUNCTIONS = f"""
work:
  handler: app.work
  maximumRetryAttempts: 0
  destinations: {{onSuccess: audit, onFailure: audit}}
patient:
  handler: app.work
  destinations:
    onFailure: {AUDIT_ARN}
busy:
  handler: app.busy
  timeout: 200
  reservedConcurrency: 1
  maximumEventAge: 60
  destinations:
    onFailure: {{type: function, arn: !GetAtt AuditLambdaFunction.Arn}}
lonely:
  handler: app.work
  maximumRetryAttempts: 1
queued:
  handler: app.work
  maximumRetryAttempts: 0
  destinations:
    onFailure: {{type: sqs, arn: !GetAtt Failures.Arn}}
audit: {{handler: app.audit}}
"""
RESOURCES = """
resources:
  Resources:
    Failures:
      Type: AWS::SQS::Queue
"""


def name(function: str) -> str:
    return f"inline-dev-{function}"


class Seen:
    """The in-loop handlers: ``work`` fails when asked to, ``busy`` naps 100 s, ``audit`` keeps
    every record it gets with the emulated time it came."""

    def __init__(self) -> None:
        self.attempts: dict[str, list[tuple[float, str]]] = {}
        self.records: list[tuple[float, dict]] = []
        self.napping = asyncio.Event()

    def handlers(self) -> dict:
        async def work(event, context):
            now = asyncio.get_running_loop().time()
            self.attempts.setdefault(event["key"], []).append((now, context.aws_request_id))
            if event.get("fail"):
                raise RuntimeError(f"{event['key']} failed")
            return {"done": event["key"]}

        async def busy(event, context):
            self.napping.set()
            await context.sleep(100)
            return "rested"

        async def audit(event, context):
            self.records.append((asyncio.get_running_loop().time(), event))

        return {
            "work": work,
            "patient": work,
            "lonely": work,
            "queued": work,
            "busy": busy,
            "audit": audit,
        }


async def invoke(stack, http, function: str, payload: dict, invocation_type="Event") -> str:
    url = stack.http_url + INVOKE.format(name=name(function))
    data = json.dumps(payload).encode()
    headers = sigv4_headers(
        "POST", url, data, service="lambda", headers={"X-Amz-Invocation-Type": invocation_type}
    )
    async with http.post(url, data=data, headers=headers) as response:
        await response.read()
        assert response.status == (202 if invocation_type == "Event" else 200)
        return response.headers["x-amzn-RequestId"]


def run(tmp_path, scenario, seen: Seen):
    path = service_file(tmp_path, FUNCTIONS, extra=RESOURCES)

    async def main():
        async with (
            virtual_stack(path, seen.handlers()) as stack,
            aiohttp.ClientSession() as http,
        ):
            started, epoch = asyncio.get_running_loop().time(), stack.clock.epoch()
            answer = await scenario(stack, http)
            await stack.idle(timeout_s=3600, poll_s=1.0)
            return started, epoch, answer, stack.metrics.snapshot()["lambda"]["functions"]

    return run_virtual(main)


def epoch_of(record: dict) -> float:
    return datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()


def test_no_retries_sends_the_failure_record_after_one_attempt(tmp_path):
    seen = Seen()

    async def scenario(stack, http):
        return await invoke(stack, http, "work", {"key": "once", "fail": True})

    started, epoch, request_id, functions = run(tmp_path, scenario, seen)
    assert [request for _, request in seen.attempts["once"]] == [request_id]
    ((at, record),) = seen.records
    assert at - started == pytest.approx(0.0, abs=EXACT)
    assert epoch_of(record) - epoch == pytest.approx(0.0, abs=0.002)
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{name('work')}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"key": "once", "fail": True}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorMessage"] == "once failed"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert functions[name("work")]["async_events"] == {
        "accepted": 1,
        "dropped": 1,
        "destination_sent": 1,
    }
    assert functions[name("audit")]["async_events"] == {"accepted": 1, "delivered": 1}


def test_a_success_record_carries_the_response_payload(tmp_path):
    seen = Seen()

    async def scenario(stack, http):
        return await invoke(stack, http, "work", {"key": "fine"})

    _, _, request_id, functions = run(tmp_path, scenario, seen)
    ((_, record),) = seen.records
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"done": "fine"}
    assert functions[name("work")]["async_events"] == {
        "accepted": 1,
        "delivered": 1,
        "destination_sent": 1,
    }


def test_two_retries_make_three_attempts_under_one_request_id_then_the_record(tmp_path):
    seen = Seen()

    async def scenario(stack, http):
        return await invoke(stack, http, "patient", {"key": "thrice", "fail": True})

    started, epoch, request_id, _ = run(tmp_path, scenario, seen)
    attempts = seen.attempts["thrice"]
    assert [at - started for at, _ in attempts] == pytest.approx([0, 60, 180], abs=EXACT)
    assert {request for _, request in attempts} == {request_id}
    ((at, record),) = seen.records
    assert at - started == pytest.approx(180, abs=EXACT)
    assert epoch_of(record) - epoch == pytest.approx(180, abs=0.002)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["requestId"] == request_id


def test_an_event_throttled_past_its_maximum_age_is_given_up_at_that_age(tmp_path):
    """maximumEventAge 60: throttled at 0, 1, 3, 7, 15 and 31 s; the next try would come at 63 s,
    past the age, so the event expires at 60 s, never having run."""
    seen = Seen()

    async def scenario(stack, http):
        nap = asyncio.ensure_future(invoke(stack, http, "busy", {}, "RequestResponse"))
        await seen.napping.wait()  # the one unit of reserved concurrency is taken, at 0 s
        request_id = await invoke(stack, http, "busy", {"key": "late"})
        await nap
        return request_id

    started, _, request_id, functions = run(tmp_path, scenario, seen)
    ((at, record),) = seen.records
    assert at - started == pytest.approx(60, abs=EXACT)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"key": "late"}
    assert "responseContext" not in record  # it never ran
    assert functions[name("busy")]["async_events"] == {
        "accepted": 1,
        "throttled": 6,
        "dropped": 1,
        "destination_sent": 1,
    }


def test_an_event_dropped_without_a_destination_is_counted_and_logged(tmp_path, caplog):
    seen = Seen()

    async def scenario(stack, http):
        return await invoke(stack, http, "lonely", {"key": "alone", "fail": True})

    with caplog.at_level(logging.ERROR, logger="timeoutlab.lambda.async"):
        started, _, request_id, functions = run(tmp_path, scenario, seen)
    assert [at - started for at, _ in seen.attempts["alone"]] == pytest.approx([0, 60])
    assert seen.records == []
    assert functions[name("lonely")]["async_events"] == {
        "accepted": 1,
        "retried": 1,
        "dropped": 1,
    }
    (line,) = [r.getMessage() for r in caplog.records if request_id in r.getMessage()]
    assert "dropped (RetriesExhausted)" in line
    assert "failed 2 times" in line


def test_a_record_that_cannot_be_delivered_is_counted_and_logged(tmp_path, caplog):
    """Here the stack has no backend, so no SQS: the delivery fails, loudly."""
    seen = Seen()

    async def scenario(stack, http):
        return await invoke(stack, http, "queued", {"key": "nowhere", "fail": True})

    with caplog.at_level(logging.ERROR, logger="timeoutlab.lambda.async"):
        _, _, request_id, functions = run(tmp_path, scenario, seen)
    assert functions[name("queued")]["async_events"] == {
        "accepted": 1,
        "dropped": 1,
        "destination_failed": 1,
    }
    (line,) = [r.getMessage() for r in caplog.records if request_id in r.getMessage()]
    assert "onFailure record (RetriesExhausted) was not delivered" in line
    assert "arn:aws:sqs:us-east-1:000000000000:inline-dev-Failures" in line
