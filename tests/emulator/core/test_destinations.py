"""Destinations: what an ARN names, and the invocation record AWS sends."""

from emulator.core.async_retries import Condition
from emulator.core.destinations import (
    AttemptResponse,
    DestinationKind,
    QueueAddress,
    invocation_record,
    kind_of_arn,
    queue_address,
    record_timestamp,
)

ARN = "arn:aws:lambda:us-east-1:000000000000:function:inline-dev-work"


def test_arns_are_told_apart_as_serverless_does():
    assert kind_of_arn(ARN) is DestinationKind.FUNCTION
    assert kind_of_arn("arn:aws:sqs:us-east-1:000000000000:q") is DestinationKind.SQS
    assert kind_of_arn("arn:aws:sns:us-east-1:000000000000:t") is DestinationKind.SNS
    bus = "arn:aws:events:us-east-1:000000000000:event-bus/default"
    assert kind_of_arn(bus) is DestinationKind.EVENT_BUS
    assert kind_of_arn("arn:aws:s3:::bucket") is None
    assert kind_of_arn("work") is None
    assert queue_address("arn:aws:sqs:eu-west-1:123456789012:jobs.fifo") == QueueAddress(
        "eu-west-1", "123456789012", "jobs.fifo"
    )
    assert queue_address(ARN) is None


def test_a_failure_record_has_the_error_and_unhandled():
    record = invocation_record(
        epoch=1_700_000_000.5678,
        request_id="rid",
        function_arn=ARN,
        condition=Condition.RETRIES_EXHAUSTED,
        approximate_invoke_count=3,
        request_payload={"a": 1},
        response=AttemptResponse(error={"errorMessage": "boom", "errorType": "RuntimeError"}),
    )
    assert record == {
        "version": "1.0",
        "timestamp": "2023-11-14T22:13:20.567Z",
        "requestContext": {
            "requestId": "rid",
            "functionArn": f"{ARN}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": {"a": 1},
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {"errorMessage": "boom", "errorType": "RuntimeError"},
    }


def test_a_success_record_has_the_result_and_no_function_error():
    record = invocation_record(
        epoch=0,
        request_id="rid",
        function_arn=ARN,
        condition=Condition.SUCCESS,
        approximate_invoke_count=1,
        request_payload=[],
        response=AttemptResponse(payload=None),
    )
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] is None
    assert record["timestamp"] == record_timestamp(0) == "1970-01-01T00:00:00.000Z"


def test_an_event_that_never_ran_has_no_response():
    record = invocation_record(
        epoch=0,
        request_id="rid",
        function_arn=ARN,
        condition=Condition.EVENT_AGE_EXCEEDED,
        approximate_invoke_count=0,
        request_payload={},
        response=None,
    )
    assert "responseContext" not in record
    assert "responsePayload" not in record
