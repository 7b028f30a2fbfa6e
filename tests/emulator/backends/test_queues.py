"""SQS destinations on a real backend: the queues of resources.Resources are created at start,
and invocation records arrive in them as the message body, read back with boto3."""

import json
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from emulator.backends.bootstrap import bootstrap
from emulator.backends.queues import DEFAULT_EXECUTOR_THREADS, QueueDeliveryError, QueueSender
from emulator.service import load_service
from emulator.stack import StackThread
from tests.support import aws_client, stack_config, write_service

HANDLERS = """
def ok(event, context):
    return {"echo": event}

def fail(event, context):
    raise RuntimeError("no luck")
"""


def functions(queue: str) -> str:
    return f"""
ok:
  handler: app.ok
  destinations:
    onSuccess: {{type: sqs, arn: !GetAtt Records.Arn}}
fail:
  handler: app.fail
  maximumRetryAttempts: 0
  destinations:
    onFailure: arn:aws:sqs:us-east-1:000000000000:{queue}
"""


def resources(queue: str) -> str:
    return (
        "resources:\n  Resources:\n    Records:\n      Type: AWS::SQS::Queue\n"
        f"      Properties: {{QueueName: {queue}, VisibilityTimeout: 0}}\n"
    )


def test_bootstrap_creates_the_queues_again_and_again(moto_server, tmp_path):
    queue = f"records-{uuid.uuid4().hex[:8]}"
    path = write_service(tmp_path, HANDLERS, functions(queue), extra=resources(queue))
    service = load_service(path)
    bootstrap(service, moto_server)
    bootstrap(service, moto_server)
    sqs = aws_client("sqs", moto_server.endpoint_url)
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"].endswith(f":{queue}")  # in the backend's own account
    assert attributes["VisibilityTimeout"] == "0"


def test_a_missing_queue_is_a_delivery_error_naming_it(moto_server):
    arn = "arn:aws:sqs:us-east-1:000000000000:no-such-queue"
    with pytest.raises(QueueDeliveryError, match=r"sending to .*no-such-queue"):
        QueueSender(moto_server).send(arn, "{}")


def test_records_of_async_invocations_arrive_in_the_sqs_destination(moto_server, tmp_path):
    queue = f"records-{uuid.uuid4().hex[:8]}"
    path = write_service(tmp_path, HANDLERS, functions(queue), extra=resources(queue))
    with StackThread(stack_config(moto_server.endpoint_url, service_path=path)) as stack:
        lam = aws_client("lambda", stack.http_url)
        sent = {
            key: lam.invoke(
                FunctionName=f"inline-dev-{key}", InvocationType="Event", Payload=b'{"n": 1}'
            )["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
            for key in ("ok", "fail")
        }
        stack.wait_idle(timeout_s=60)
        functions_figures = stack.metrics.snapshot()["lambda"]["functions"]
    sqs = aws_client("sqs", moto_server.endpoint_url)
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    records = {
        record["requestContext"]["condition"]: record
        for record in (json.loads(message["Body"]) for message in messages)
    }
    assert set(records) == {"Success", "RetriesExhausted"}
    success, failure = records["Success"], records["RetriesExhausted"]
    assert success["requestContext"]["requestId"] == sent["ok"]
    assert success["requestPayload"] == {"n": 1}
    assert success["responsePayload"] == {"echo": {"n": 1}}
    assert failure["requestContext"]["requestId"] == sent["fail"]
    assert failure["requestContext"]["approximateInvokeCount"] == 1
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert failure["responsePayload"]["errorMessage"] == "no luck"
    for key in ("ok", "fail"):
        assert functions_figures[f"inline-dev-{key}"]["async_events"]["destination_sent"] == 1


def test_sends_from_every_executor_thread_at_once_never_fill_the_connection_pool(
    moto_server, caplog
):
    """As many sends at once as asyncio's executor runs threads (the sender's callers): urllib3
    never discards a connection with "Connection pool is full" (issue 14 counted 2,845 of them
    in one load run, from a pool smaller than the threads using it), and every message arrives."""
    queue = f"burst-{uuid.uuid4().hex[:8]}"
    sqs = aws_client("sqs", moto_server.endpoint_url)
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:000000000000:{queue}"
    sender = QueueSender(moto_server)
    together = threading.Barrier(DEFAULT_EXECUTOR_THREADS)
    rounds = 3

    def send(thread: int) -> None:
        for turn in range(rounds):
            together.wait(timeout=60)  # every thread holds a connection at the same moment
            sender.send(arn, json.dumps({"thread": thread, "turn": turn}))

    caplog.set_level(logging.WARNING, logger="urllib3")
    with ThreadPoolExecutor(DEFAULT_EXECUTOR_THREADS) as pool:
        list(pool.map(send, range(DEFAULT_EXECUTOR_THREADS)))
    full = [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()]
    assert not full, f"{len(full)} times: {full[0]}"
    count = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert (
        int(count["Attributes"]["ApproximateNumberOfMessages"]) == rounds * DEFAULT_EXECUTOR_THREADS
    )
