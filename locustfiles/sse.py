"""Locust user for the sse strategy: `locust -f locustfiles/sse.py --host http://127.0.0.1:3000/dev`."""

from typing import ClassVar

from locustfiles.common import ReportUser


class SseUser(ReportUser):
    strategy = "sse"


class SseStreamingUser(ReportUser):
    """The same, on the response-streaming route."""

    strategy = "sse"
    options: ClassVar[dict] = {"sse_streaming": True}
