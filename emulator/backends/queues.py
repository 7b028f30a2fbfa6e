"""Messages to the backend's SQS queues: where asynchronous invocation records go.

Lambda passes an SQS destination the invocation record "as the Message" (the message body)
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html); here it is
sent with boto3 to the backend (the embedded moto server, LocalStack, an endpoint URL).
"""

from __future__ import annotations

import threading

from botocore.exceptions import BotoCoreError, ClientError

from emulator.backends.endpoint import Backend
from emulator.core.destinations import queue_address


class QueueDeliveryError(RuntimeError):
    """A message could not be sent: the ARN names no queue, or the backend refused it."""


#: The most threads ``asyncio.to_thread`` runs at once: ``min(32, cpus + 4)``.
DEFAULT_EXECUTOR_THREADS = 32


class QueueSender:
    """Sends message bodies to queues named by ARN; blocking (call it from a thread)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._client = None
        self._lock = threading.Lock()

    def _sqs(self):
        with self._lock:
            if self._client is None:
                # Called from asyncio's default executor (at most 32 threads): one connection
                # per thread, so urllib3 never warns that its pool is full.
                self._client = self.backend.client("sqs", connections=DEFAULT_EXECUTOR_THREADS)
            return self._client

    def send(self, arn: str, body: str) -> str:
        """Send ``body`` to the queue ``arn`` names; returns the message id.

        Raises QueueDeliveryError saying why when it cannot."""
        address = queue_address(arn)
        if address is None:
            raise QueueDeliveryError(f"{arn!r} is not an SQS queue ARN")
        sqs = self._sqs()
        try:
            # By name, in the backend's own account: the ARN's is the emulator's placeholder
            # account, which a backend need not use (moto's is 123456789012).
            url = sqs.get_queue_url(QueueName=address.name)["QueueUrl"]
            return str(sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"])
        except (BotoCoreError, ClientError) as exc:
            raise QueueDeliveryError(
                f"sending to {arn} on {self.backend.kind} at {self.backend.endpoint_url} "
                f"failed: {exc}"
            ) from exc
