"""The five strategies, each a function from a report definition to a ReportResult.

``rest`` asks synchronously and meets the 29 s integration timeout; ``short_poll`` and
``long_poll`` create a job and ask for it again; ``sse`` creates a job and reads its event stream
(buffered, the article's world, or streamed); ``websocket`` asks over a WebSocket and gets the URL
pushed, reconnecting and resuming its job by id if the connection drops.

Each step (a connect, a request, a poll, a message received) is told to ``on_step`` as it ends,
so a load tool can chart them live; the result and its summed costs come back at the end.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from httpx_sse import SSEError, connect_sse
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.frames import Frame, Opcode
from websockets.protocol import Event
from websockets.sync.client import ClientConnection, connect

from reportclient.results import Costs, Failure, FailureKind, ReportResult, Step, StepKind
from reportclient.wire import counting_socket, counting_ssl_context, http_client, verify_context

STRATEGIES = ("rest", "short_poll", "long_poll", "sse", "websocket")
GATEWAY_TIMEOUT = 504
#: An HTTP API's answer when its (30 s at most) integration timeout passes.
HTTP_API_TIMEOUT = 503
WS_MESSAGE_UNIT = 32 * 1024  # API Gateway bills WebSocket messages in 32 KB increments


@dataclass(frozen=True)
class Endpoints:
    rest_url: str  # the REST API's invoke URL with its stage, e.g. http://127.0.0.1:3000/dev
    ws_url: str  # the WebSocket API's URL with its stage, e.g. ws://127.0.0.1:3001/dev
    cafile: str | None = None  # a CA to trust for https/wss (the emulator's --tls certificate)
    #: An HTTP API's URL (no stage: its $default stage), e.g. http://127.0.0.1:3002: the "rest"
    #: strategy then posts to ``{http_api_url}/reports`` instead of the REST API's.
    http_api_url: str | None = None


@dataclass(frozen=True)
class Options:
    time_scale: float = 1.0  # the emulator's: client waits are emulated seconds too
    poll_interval: float = 2.0  # short polling: seconds between polls
    long_poll_wait: int = 20  # long polling: waitSeconds asked for
    sse_streaming: bool = False  # read the response-streaming route instead of the buffered one
    deadline: float = 960.0  # give up after this many seconds (a report takes 900 s at most)
    max_reconnects: int = 3


OnStep = Callable[[Step], None]


def _ignore(step: Step) -> None:
    pass


class _Run:
    """One strategy run: its costs, its clock, its steps, and the failure or URL it ends with."""

    def __init__(
        self, strategy: str, endpoints: Endpoints, options: Options, on_step: OnStep
    ) -> None:
        self.result = ReportResult(strategy)
        self.costs: Costs = self.result.costs
        self.endpoints = endpoints
        self.options = options
        self.on_step = on_step
        self.started = time.monotonic()
        self.real_deadline = self.started + options.deadline * options.time_scale

    def real(self, seconds: float) -> float:
        return seconds * self.options.time_scale

    def left(self) -> float:
        return max(0.01, self.real_deadline - time.monotonic())

    def step(
        self, kind: StepKind, name: str, started: float, received: int = 0, error: str | None = None
    ) -> None:
        """Tell ``on_step`` of a step that began at ``started`` (``time.monotonic()``) and ended."""
        elapsed = (time.monotonic() - started) / self.options.time_scale
        self.on_step(Step(kind, name, elapsed, received, error))

    def http(self) -> httpx.Client:
        # httpx traffic is counted at httpcore's streams, so its TLS context must not count too;
        # it is made once per CA file and shared (``verify_context``), not once per report.
        return http_client(
            self.costs,
            timeout=self.left() + 5,
            verify=verify_context(self.endpoints.cafile),
            on_connect=lambda name, started: self.step("connect", name, started),
        )

    def finish(self, url: str | None = None, failure: Failure | None = None) -> ReportResult:
        self.result.url, self.result.failure = url, failure
        self.costs.time_to_result_s = (time.monotonic() - self.started) / self.options.time_scale
        return self.result


def _status_error(status: int) -> str | None:
    return f"HTTP {status}" if status >= 400 else None


def _send(
    run: _Run,
    client: httpx.Client,
    kind: StepKind,
    method: str,
    path: str,
    route: str | None = None,
    **kwargs,
) -> httpx.Response:
    """One request to the REST API, told to ``on_step`` as ``kind`` named by method and ``route``
    (the path with ids left out, e.g. ``/reports/jobs/{id}``)."""
    return _send_to(run, client, run.endpoints.rest_url, kind, method, path, route, **kwargs)


def _send_to(
    run: _Run,
    client: httpx.Client,
    base_url: str,
    kind: StepKind,
    method: str,
    path: str,
    route: str | None = None,
    **kwargs,
) -> httpx.Response:
    """``_send`` to the API at ``base_url``."""
    name = f"{method} {route or path}"
    started, before = time.monotonic(), run.costs.bytes_received
    try:
        response = client.request(method, f"{base_url}{path}", **kwargs)
    except httpx.TransportError as exc:
        run.step(kind, name, started, run.costs.bytes_received - before, type(exc).__name__)
        raise
    error = _status_error(response.status_code)
    run.step(kind, name, started, run.costs.bytes_received - before, error)
    return response


def _http_failure(response: httpx.Response) -> Failure:
    if response.status_code == GATEWAY_TIMEOUT:
        return Failure("gateway_timeout", response.text, GATEWAY_TIMEOUT)
    return Failure("http_error", response.text[:200], response.status_code)


def _job_outcome(run: _Run, job: dict) -> ReportResult | None:
    """The run's end if the job is finished, else None."""
    if job.get("status") == "succeeded":
        return run.finish(url=job["url"])
    if job.get("status") == "failed":
        return run.finish(failure=Failure("job_failed", job.get("error", "")))
    return None


def _create_job(run: _Run, client: httpx.Client, definition: dict) -> str | ReportResult:
    response = _send(run, client, "request", "POST", "/reports/jobs", json=definition)
    if response.status_code != 202:
        return run.finish(failure=_http_failure(response))
    return response.json()["jobId"]


def rest(run: _Run, definition: dict) -> ReportResult:
    """One synchronous request: to the REST API, or to the HTTP API when ``http_api_url`` is
    set (where the integration timeout answers 503 instead of 504)."""
    http_api = run.endpoints.http_api_url
    with run.http() as client:
        if http_api is None:
            response = _send(run, client, "request", "POST", "/reports", json=definition)
        else:
            response = _send_to(
                run, client, http_api, "request", "POST", "/reports", json=definition
            )
    if response.status_code == 200:
        return run.finish(url=response.json()["url"])
    if http_api is not None and response.status_code == HTTP_API_TIMEOUT:
        return run.finish(failure=Failure("gateway_timeout", response.text, HTTP_API_TIMEOUT))
    return run.finish(failure=_http_failure(response))


def _poll(run: _Run, definition: dict, query: str, pause: float) -> ReportResult:
    with run.http() as client:
        job_id = _create_job(run, client, definition)
        if isinstance(job_id, ReportResult):
            return job_id
        while time.monotonic() < run.real_deadline:
            path, route = f"/reports/jobs/{job_id}{query}", f"/reports/jobs/{{id}}{query}"
            response = _send(run, client, "poll", "GET", path, route)
            if response.status_code != 200:
                return run.finish(failure=_http_failure(response))
            outcome = _job_outcome(run, response.json())
            if outcome is not None:
                return outcome
            run.costs.empty_polls += 1
            time.sleep(min(pause, run.left()))
    return run.finish(failure=Failure("timed_out", "no result before the client's deadline"))


def short_poll(run: _Run, definition: dict) -> ReportResult:
    return _poll(run, definition, "", run.real(run.options.poll_interval))


def long_poll(run: _Run, definition: dict) -> ReportResult:
    return _poll(run, definition, f"?waitSeconds={run.options.long_poll_wait}", 0.0)


def sse(run: _Run, definition: dict) -> ReportResult:
    suffix = "/events/stream" if run.options.sse_streaming else "/events"
    with run.http() as client:
        job_id = _create_job(run, client, definition)
        if isinstance(job_id, ReportResult):
            return job_id
        url = f"{run.endpoints.rest_url}/reports/jobs/{job_id}{suffix}"
        name = f"GET /reports/jobs/{{id}}{suffix}"
        last_event_id: str | None = None
        for attempt in range(run.options.max_reconnects + 1):
            if attempt:
                run.costs.reconnects += 1
            headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
            started, before = time.monotonic(), run.costs.bytes_received
            error: str | None = "the stream ended without a result"
            try:
                with connect_sse(client, "GET", url, headers=headers) as source:
                    if source.response.status_code != 200:
                        source.response.read()
                        error = f"HTTP {source.response.status_code}"
                        return run.finish(failure=_http_failure(source.response))
                    outcome = None
                    for event in source.iter_sse():
                        last_event_id = event.id or last_event_id
                        if outcome is None and event.event in ("result", "error"):
                            outcome = _job_outcome(run, json.loads(event.data))
                    # The result is the stream's last event: reading on to its end takes in the
                    # closing chunk too, so the bytes counted here are all the gateway sent.
                if outcome is not None:
                    error = None
                    return outcome
            except (httpx.TransportError, SSEError) as exc:
                error = type(exc).__name__
                continue  # the stream broke: resume from the last event id
            finally:  # the stream is one request, however it ended
                run.step("request", name, started, run.costs.bytes_received - before, error)
    return run.finish(failure=Failure("connection_lost", "the event stream ended without a result"))


class _CountingConnection(ClientConnection):
    """Counts data frames as the protocol parses them."""

    costs: Costs

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            self.costs.ws_frames_received += 1
        super().process_event(event)


def _ws_connect(run: _Run) -> ClientConnection:
    """A counting connection; use it through ``_ws_session`` so its open time is counted.

    Its whole opening (TCP, TLS, the upgrade the gateway answers after ``$connect``) is one
    ``connect`` step."""
    parts = urlsplit(run.endpoints.ws_url)
    secure = parts.scheme == "wss"
    started = time.monotonic()
    try:
        sock = counting_socket(
            parts.hostname or "127.0.0.1",
            parts.port or (443 if secure else 80),
            run.costs,
            run.left(),
        )
        context = counting_ssl_context(run.costs, run.endpoints.cafile) if secure else None
        counted = type("Counted", (_CountingConnection,), {"costs": run.costs})
        ws = connect(
            run.endpoints.ws_url,
            sock=sock,
            ssl=context,
            open_timeout=run.left(),
            compression=None,
            create_connection=counted,
        )
    except (WebSocketException, OSError) as exc:
        run.step("connect", "websocket", started, error=f"{type(exc).__name__}: {exc}"[:120])
        raise
    run.step("connect", "websocket", started)
    return ws


@contextmanager
def _ws_session(run: _Run) -> Iterator[ClientConnection]:
    """An open connection whose open time (connection minutes are billed) lands in the costs."""
    ws = _ws_connect(run)
    opened = time.monotonic()
    try:
        with ws:
            yield ws
    finally:
        run.costs.ws_connection_s += (time.monotonic() - opened) / run.options.time_scale


def _message_units(message: str | bytes) -> int:
    size = len(message.encode() if isinstance(message, str) else message)
    return max(1, math.ceil(size / WS_MESSAGE_UNIT))


def _ws_send(run: _Run, ws: ClientConnection, message: dict) -> float:
    """Send ``message``; returns when it was sent, so the answers to it can be timed from then.

    That is the instant just before the send: the gateway may receive the message, and start
    what it times, before the send returns here."""
    text = json.dumps(message)
    sent_at = time.monotonic()
    ws.send(text)
    run.costs.ws_messages_sent += 1
    run.costs.ws_frames_sent += 1
    run.costs.ws_message_units += _message_units(text)
    return sent_at


def _ws_receive(run: _Run, ws: ClientConnection, asked_at: float) -> dict:
    """The next message, told to ``on_step`` by what it says: "accepted", "result", "error"."""
    message = ws.recv(timeout=run.left())
    run.costs.ws_messages_received += 1
    run.costs.ws_message_units += _message_units(message)
    parsed = json.loads(message)
    if "url" in parsed:
        name, error = "result", None
    elif "error" in parsed or "message" in parsed:  # the job's error or the gateway's own
        name, error = "error", str(parsed.get("error") or parsed.get("message"))[:120]
    else:
        name, error = str(parsed.get("status", "message")), None
    run.step("message", name, asked_at, len(message), error)
    return parsed


def websocket(run: _Run, definition: dict) -> ReportResult:
    job_id: str | None = None
    for attempt in range(run.options.max_reconnects + 1):
        if attempt:
            run.costs.reconnects += 1
        try:
            with _ws_session(run) as ws:
                if job_id is None:
                    asked_at = _ws_send(run, ws, {"action": "generateReport", **definition})
                else:  # resume: attach the job to this connection and ask where it is
                    asked_at = _ws_send(run, ws, {"action": "getReport", "jobId": job_id})
                while time.monotonic() < run.real_deadline:
                    message = _ws_receive(run, ws, asked_at)
                    job_id = message.get("jobId", job_id)
                    if "url" in message:
                        return run.finish(url=message["url"])
                    if "error" in message or message.get("status") == "failed":
                        return run.finish(failure=Failure("job_failed", message.get("error", "")))
                    if "message" in message:  # the gateway's own error reply
                        kind: FailureKind = (
                            "gateway_timeout" if "timed out" in message["message"] else "http_error"
                        )
                        return run.finish(failure=Failure(kind, message["message"]))
                return run.finish(failure=Failure("timed_out", "no result before the deadline"))
        except TimeoutError:
            return run.finish(failure=Failure("timed_out", "no result before the deadline"))
        except InvalidStatus as exc:
            # The gateway refused the opening handshake with an HTTP status: a $connect
            # authorizer's 401/403, or a failed $connect route. "If authorization fails on
            # $connect, the connection will not be established, and the client will receive a
            # 401 or 403 response." (https://docs.aws.amazon.com/apigateway/latest/
            # developerguide/apigateway-websocket-api-route-keys-connect-disconnect.html).
            # Its status is the cause, not a lost connection; retrying would be refused alike.
            status = exc.response.status_code
            return run.finish(
                failure=Failure(
                    "http_error", f"WebSocket handshake refused with HTTP {status}", status
                )
            )
        except (ConnectionClosed, WebSocketException, OSError):
            if job_id is None:
                return run.finish(
                    failure=Failure("connection_lost", "dropped before the job was accepted")
                )
    return run.finish(failure=Failure("connection_lost", "the connection kept dropping"))


_RUNNERS: dict[str, Callable[[_Run, dict], ReportResult]] = {
    "rest": rest,
    "short_poll": short_poll,
    "long_poll": long_poll,
    "sse": sse,
    "websocket": websocket,
}


def fetch_report(
    strategy: str,
    endpoints: Endpoints,
    definition: dict,
    on_step: OnStep = _ignore,
    **options,
) -> ReportResult:
    """Get one report by ``strategy``; options are those of ``Options`` (time_scale, ...).

    ``on_step`` is told of each connect, request, poll and message as it ends."""
    if strategy not in _RUNNERS:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    run = _Run(strategy, endpoints, Options(**options), on_step)
    return _RUNNERS[strategy](run, definition)
