"""All strategies at once, one user class each: ``locust -f locustfiles/mixed.py``."""

from locustfiles.long_poll import LongPollUser
from locustfiles.rest import RestUser
from locustfiles.short_poll import ShortPollUser
from locustfiles.sse import SseStreamingUser, SseUser
from locustfiles.websocket import WebsocketUser

__all__ = [
    "LongPollUser",
    "RestUser",
    "ShortPollUser",
    "SseStreamingUser",
    "SseUser",
    "WebsocketUser",
]
