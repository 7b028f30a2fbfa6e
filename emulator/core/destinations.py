"""Destinations of asynchronous invocations: where a record goes, and the record itself.

Lambda sends "records of asynchronous invocations" to a destination: a function, an SQS queue,
an SNS topic or an EventBridge event bus (and, on failure only, an S3 bucket)
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html). Functions
and SQS queues are modelled here; SNS and EventBridge are not (the emulator logs and skips them).

Pure: the caller gives the time (epoch seconds) and the outcome; nothing here reads a clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from emulator.core.async_retries import Condition


class DestinationKind(StrEnum):
    """The ``type`` Serverless accepts in the object form of a destination (its v3 schema,
    github.com/serverless/serverless/blob/v3/lib/plugins/aws/provider.js, ``destinations``)."""

    FUNCTION = "function"
    SQS = "sqs"
    SNS = "sns"
    EVENT_BUS = "eventBus"


#: The kinds this emulator delivers to; the others are logged and skipped at run time.
MODELLED_KINDS = frozenset({DestinationKind.FUNCTION, DestinationKind.SQS})

_SQS_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:sqs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<name>[\w.-]+)$"
)


@dataclass(frozen=True)
class Destination:
    """One ``onSuccess`` / ``onFailure`` destination: its kind and ARN; ``function_key`` names
    the serverless.yml function it invokes when that function is in this service."""

    kind: DestinationKind
    arn: str
    function_key: str | None = None

    @property
    def modelled(self) -> bool:
        return self.kind in MODELLED_KINDS


def kind_of_arn(arn: str) -> DestinationKind | None:
    """The destination kind an ARN names, as Serverless tells them apart (``:function:``,
    ``:sqs:``, ``:sns:``, ``:event-bus/``: ``ensureTargetExecutionPermission`` in
    github.com/serverless/serverless/blob/v3/lib/plugins/aws/package/compile/functions.js);
    None for anything else, which Serverless refuses ("Unsupported destination target")."""
    if not arn.startswith("arn:"):
        return None
    if ":function:" in arn:
        return DestinationKind.FUNCTION
    if ":sqs:" in arn:
        return DestinationKind.SQS
    if ":sns:" in arn:
        return DestinationKind.SNS
    if ":event-bus/" in arn:
        return DestinationKind.EVENT_BUS
    return None


@dataclass(frozen=True)
class QueueAddress:
    """An SQS queue as its ARN names it: ``arn:aws:sqs:<region>:<account>:<name>``."""

    region: str
    account: str
    name: str


def queue_address(arn: str) -> QueueAddress | None:
    """The queue an SQS ARN names, or None when ``arn`` is not one."""
    found = _SQS_ARN.match(arn)
    if found is None:
        return None
    return QueueAddress(found["region"], found["account"], found["name"])


def queue_arn(region: str, account: str, name: str) -> str:
    """What ``Fn::GetAtt <Queue>.Arn`` returns for a queue (AWS::SQS::Queue return values,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sqs-queue.html)."""
    return f"arn:aws:sqs:{region}:{account}:{name}"


def record_timestamp(epoch: float) -> str:
    """ISO 8601 in UTC with milliseconds, as the records' ``timestamp``
    (e.g. ``2019-11-14T18:16:05.568Z``)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class AttemptResponse:
    """The last attempt's answer: the function's result (``error`` None) or its error shape."""

    payload: Any = None
    error: dict | None = None


def invocation_record(
    *,
    epoch: float,
    request_id: str,
    function_arn: str,
    condition: Condition,
    approximate_invoke_count: int,
    request_payload: Any,
    response: AttemptResponse | None,
) -> dict:
    """The invocation record Lambda sends to a destination, as JSON-ready data.

    Shape per https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
    ("Example invocation record"): ``version`` "1.0", ``timestamp``, ``requestContext``
    (``requestId``, ``functionArn`` qualified with ``$LATEST``, ``condition``,
    ``approximateInvokeCount``), ``requestPayload`` (the event), ``responseContext``
    (``statusCode`` 200, ``executedVersion`` "$LATEST", ``functionError`` "Unhandled" when the
    function failed) and ``responsePayload`` (its result or error object).

    ``response`` None: no attempt ran (an event throttled until it was too old). AWS does not
    document that record; it has no ``responseContext`` and no ``responsePayload`` here, since
    there was no response.
    """
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": record_timestamp(epoch),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": str(condition),
            "approximateInvokeCount": approximate_invoke_count,
        },
        "requestPayload": request_payload,
    }
    if response is not None:
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if response.error is not None:
            context["functionError"] = "Unhandled"
        record["responseContext"] = context
        record["responsePayload"] = (
            response.error if response.error is not None else response.payload
        )
    return record
