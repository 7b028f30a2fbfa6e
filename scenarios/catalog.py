"""The named scenarios: which strategies run, with which reports, load shape and expectations.

A scenario is a list of phases run one after another, one strategy each, so that what the
emulator measures during a phase (Lambda time, DynamoDB and S3 requests) belongs to that strategy
alone. Durations are emulated seconds; the runner plays them at the time scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: The Locust user class of each strategy label, as "module:Class".
USER_CLASSES = {
    "rest": "locustfiles.rest:RestUser",
    "short_poll": "locustfiles.short_poll:ShortPollUser",
    "long_poll": "locustfiles.long_poll:LongPollUser",
    "sse": "locustfiles.sse:SseUser",
    "sse-streaming": "locustfiles.sse:SseStreamingUser",
    "websocket": "locustfiles.websocket:WebsocketUser",
}
#: The REST route that holds a strategy's request open, where the gateway measures its 504s.
GATEWAY_ROUTES = {"rest": "POST /reports", "sse": "GET /reports/jobs/{jobId}/events"}
IDLE_WEBSOCKET_USER = "locustfiles.idle_websocket:IdleWebsocketUser"
IDLE_LABEL = "websocket-idle"  # what the idle users count under

Shape = Literal["steady", "spike"]


@dataclass(frozen=True)
class Expectation:
    """What every report of one strategy and delay must end in, for the run to pass;
    ``idle_closed``: every idle connection closed by the gateway with 1001, on time."""

    label: str
    delay_s: float
    outcome: Literal["delivered", "gateway_timeout", "idle_closed"]


@dataclass(frozen=True)
class Phase:
    label: str  # the strategy label, a key of USER_CLASSES
    extra_users: tuple[str, ...] = ()  # more user classes sharing the phase's users

    @property
    def user_classes(self) -> tuple[str, ...]:
        return (USER_CLASSES[self.label], *self.extra_users)


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    phases: tuple[Phase, ...]
    delays_ms: tuple[int, ...] = (5000, 40000)  # each user asks for these in turn
    users: int = 20
    spawn_rate: float = 10.0  # users started per real second, as Locust counts
    run_time_s: float = 180.0  # emulated seconds per phase
    time_scale: float = 0.05
    rows: int = 100
    shape: Shape = "steady"
    expectations: tuple[Expectation, ...] = field(default=())


def _all_delivered(labels: tuple[str, ...], delays_ms: tuple[int, ...]) -> tuple:
    return tuple(Expectation(label, d / 1000, "delivered") for label in labels for d in delays_ms)


#: The strategies that get a 40 s report past the 29 s integration timeout.
DELIVER_40_S = ("short_poll", "long_poll", "sse-streaming", "websocket")

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="reproduction",
            summary="the article at load: many users ask for 5 s and 40 s reports over REST, "
            "then over WebSocket; every REST 40 s report must end in a 504 at 29 s, every "
            "WebSocket report must be delivered",
            phases=(Phase("rest"), Phase("websocket")),
            expectations=(
                Expectation("rest", 5, "delivered"),
                Expectation("rest", 40, "gateway_timeout"),
                *_all_delivered(("websocket",), (5000, 40000)),
            ),
        ),
        Scenario(
            name="compare",
            summary="all five strategies (SSE buffered and streamed) on 5 s and 40 s reports, "
            "one after another: time to result, connections, requests, messages, bytes, dollars",
            phases=tuple(Phase(label) for label in USER_CLASSES),
            users=10,
            expectations=(
                *_all_delivered(tuple(USER_CLASSES), (5000,)),
                Expectation("rest", 40, "gateway_timeout"),
                Expectation("sse", 40, "gateway_timeout"),
                *_all_delivered(
                    ("short_poll", "long_poll", "sse-streaming", "websocket"), (40_000,)
                ),
            ),
        ),
        Scenario(
            name="spike",
            summary="a sudden spike: a quarter of the users, then all of them at once for a "
            "fifth of the run, then back; REST and WebSocket with 5 s reports",
            phases=(Phase("rest"), Phase("websocket")),
            delays_ms=(5000,),
            users=40,
            spawn_rate=40.0,
            shape="spike",
            expectations=_all_delivered(("rest", "websocket"), (5000,)),
        ),
        Scenario(
            name="soak",
            summary="a long soak over WebSocket: users ask for reports now and then while as "
            "many connections stay open doing nothing, past API Gateway's 10 min idle timeout "
            "(closed with 1001, then reopened)",
            phases=(Phase("websocket", extra_users=(IDLE_WEBSOCKET_USER,)),),
            users=10,
            run_time_s=1800.0,
            expectations=(
                *_all_delivered(("websocket",), (5000, 40000)),
                Expectation(IDLE_LABEL, 0, "idle_closed"),
            ),
        ),
    )
}


class UnknownScenario(KeyError):
    def __str__(self) -> str:
        return f"no scenario named {self.args[0]!r}; known: {', '.join(SCENARIOS)}"


def get(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UnknownScenario(name) from None
