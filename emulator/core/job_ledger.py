"""WebSocket jobs accepted and answered: the emulator's check that nothing accepted is lost.

A job, to the emulator, is what the report app (and any service with the same convention)
sends a WebSocket client: a JSON object with a ``jobId`` and neither ``url`` nor ``error`` (the
route's "accepted" answer) opens a job; a message to that client with the same ``jobId`` and a
``url`` or an ``error`` (pushed through @connections, or a route's answer) answers it. Accepted
jobs never answered are the ones a client waits for in vain. This is the emulator's own
bookkeeping of its service's messages, not an AWS figure: API Gateway knows nothing of jobs.

Its memory is bounded for runs of any length: a job still open is kept by id until answered;
an answered one is counted, and its id remembered among the last ``remembered`` answered (so a
later status message for it does not open it again, and an answer that came before its
acceptance still counts when the acceptance comes).

Pure: it is told the messages sent; it reads no clock and touches no socket.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum

#: The fields a message carries for the ledger: the job's id, and what answers it.
JOB_ID = "jobId"
#: Answered job ids remembered (about 220 bytes each with a UUID id): 100,000 is about 22 MB.
REMEMBERED_ANSWERS = 100_000


class Answer(Enum):
    """What answered a job: a ``url`` (its result) or an ``error``."""

    URL = "url"
    ERROR = "error"


@dataclass(slots=True)
class _Answered:
    answer: Answer
    counted: bool  # whether the job's acceptance was seen (so it is in the counts)


@dataclass
class JobLedger:
    """Counts of WebSocket jobs accepted, answered with a url or an error, and unanswered, from
    the messages sent to WebSocket clients. A job answered with an error and later with a url
    counts as answered with a url."""

    remembered: int = REMEMBERED_ANSWERS
    _open: set[str] = field(default_factory=set)
    _answered: OrderedDict[str, _Answered] = field(default_factory=OrderedDict)
    _with: dict[Answer, int] = field(default_factory=lambda: dict.fromkeys(Answer, 0))

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
            self._answer(job_id, Answer.URL)
        elif "error" in message:
            self._answer(job_id, Answer.ERROR)
        else:
            self._accept(job_id)

    def _accept(self, job_id: str) -> None:
        if job_id in self._open:
            return
        answered = self._answered.get(job_id)
        if answered is None:
            self._open.add(job_id)
        elif not answered.counted:  # its answer came first
            answered.counted = True
            self._with[answered.answer] += 1
        # else: a status message for a job already answered

    def _answer(self, job_id: str, answer: Answer) -> None:
        answered = self._answered.pop(job_id, None)
        if job_id in self._open:
            self._open.discard(job_id)
            answered = _Answered(answer, counted=True)
            self._with[answer] += 1
        elif answered is None:
            answered = _Answered(answer, counted=False)
        elif answered.answer is Answer.ERROR and answer is Answer.URL:
            if answered.counted:
                self._with[Answer.ERROR] -= 1
                self._with[Answer.URL] += 1
            answered.answer = Answer.URL
        self._answered[job_id] = answered  # the newest last
        while len(self._answered) > self.remembered:
            self._answered.popitem(last=False)

    @property
    def unanswered(self) -> set[str]:
        """Jobs accepted and answered neither with a url nor with an error."""
        return set(self._open)

    def snapshot(self) -> dict:
        """``{"accepted", "answered_url", "answered_error", "unanswered"}``: counts of jobs
        accepted, answered (of those) with a url or an error, and still unanswered."""
        return {
            "accepted": len(self._open) + sum(self._with.values()),  # each open or answered
            "answered_url": self._with[Answer.URL],
            "answered_error": self._with[Answer.ERROR],
            "unanswered": len(self._open),
        }
