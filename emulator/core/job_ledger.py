"""WebSocket jobs accepted and answered: the emulator's check that nothing accepted is lost.

A job, to the emulator, is what the report app (and any service with the same convention)
sends a WebSocket client: a JSON object with a ``jobId`` and neither ``url`` nor ``error`` (the
route's "accepted" answer) opens a job; a message to that client with the same ``jobId`` and a
``url`` or an ``error`` (pushed through @connections, or a route's answer) answers it. Accepted
jobs never answered are the ones a client waits for in vain. This is the emulator's own
bookkeeping of its service's messages, not an AWS figure: API Gateway knows nothing of jobs.

Pure: it is told the messages sent; it reads no clock and touches no socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

#: The fields a message carries for the ledger: the job's id, and what answers it.
JOB_ID = "jobId"
ANSWERS = ("url", "error")


@dataclass
class JobLedger:
    """Job ids accepted and answered, from the messages sent to WebSocket clients."""

    accepted: set[str] = field(default_factory=set)
    answered_with_url: set[str] = field(default_factory=set)
    answered_with_error: set[str] = field(default_factory=set)

    def message_sent(self, text: str | bytes) -> None:
        """Take note of one message sent to a client (anything but a JSON object with a string
        ``jobId`` is ignored): an answer if it has ``url`` or ``error``, else an acceptance."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        if JOB_ID not in text:
            return  # the common case, without parsing
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            return
        if not isinstance(message, dict) or not isinstance(message.get(JOB_ID), str):
            return
        job_id = message[JOB_ID]
        if "url" in message:
            self.answered_with_url.add(job_id)
        elif "error" in message:
            self.answered_with_error.add(job_id)
        else:
            self.accepted.add(job_id)

    @property
    def unanswered(self) -> set[str]:
        """Jobs accepted and answered neither with a url nor with an error."""
        return self.accepted - self.answered_with_url - self.answered_with_error

    def snapshot(self) -> dict:
        """``{"accepted", "answered_url", "answered_error", "unanswered"}``: counts of jobs
        accepted, answered (of those) with a url or an error, and still unanswered."""
        with_url = self.accepted & self.answered_with_url
        return {
            "accepted": len(self.accepted),
            "answered_url": len(with_url),
            "answered_error": len((self.accepted & self.answered_with_error) - with_url),
            "unanswered": len(self.unanswered),
        }
