"""A generic Locust user for a user's own routes: ``timeoutlab.run_load(request=...)`` runs it.

``--request-spec FILE`` names a JSON file (``timeoutlab.load`` writes it):
``{"requests": [{"name", "api", "method", "url", "headers", "body_b64", "binary",
"think_time_s"}, ...], "time_scale": <float>, "network_timeout_s": <real s>}``.
Each user takes the requests in turn, in a loop: after a request whose ``think_time_s`` is null,
the next one at once (a closed loop); else after a pause drawn from [min, max] emulated seconds,
played at the time scale.

Each HTTP request fires Locust's own request event (real ms, its method as the type, its name),
marked failed with ``"<kind>: <detail>"``, the kind being ``gateway_timeout`` (the gateway's own
integration-timeout answer: REST's 504, an HTTP API's 503), ``status <code>`` (any other status
of 400 or more) or the name of the exception that stopped the request. Redirects are not
followed: the route's own answer is what is measured.

A ``websocket`` request sends its body as one message on the user's connection (opened, with
the request's headers, at the first such request, reopened after a close) and waits for one
message back: the route's reply, or the gateway's error message (``{"message": "Endpoint
request timed out", ...}``: a ``gateway_timeout``). It fires a ``WS`` event timed from the send
to the reply, in real ms.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import time
from pathlib import Path
from typing import Any

from locust import events, task
from locust.contrib.fasthttp import FastHttpUser
from websockets.sync.client import ClientConnection, connect

from locustfiles.judging import failure_text, http_failure, websocket_failure

#: What the spec holds, once ``--request-spec`` is read (one spec per Locust process).
SPEC: dict[str, Any] = {}


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument(
        "--request-spec",
        default="",
        metavar="FILE",
        help="JSON file of the requests RequestUser makes (timeoutlab.run_load writes it)",
    )


@events.init.add_listener
def _configure(environment, **_) -> None:
    path = getattr(environment.parsed_options, "request_spec", "")
    if not path:
        return
    SPEC.clear()
    SPEC.update(json.loads(Path(path).read_text()))
    # FastHttpUser reads these when a user is made: a slow route must not be cut by the client.
    RequestUser.network_timeout = RequestUser.connection_timeout = SPEC["network_timeout_s"]


class RequestUser(FastHttpUser):
    """Makes the spec's requests in turn, for as long as Locust runs it."""

    def wait_time(self) -> float:
        """No pause (closed loop), or the last request's think time (emulated s) played at the
        time scale."""
        think = self.think_time_s
        return 0.0 if not think else random.uniform(*think) * SPEC["time_scale"]

    def on_start(self) -> None:
        self.turns = itertools.cycle(SPEC["requests"])
        self.think_time_s: list[float] | None = None
        self.socket: ClientConnection | None = None

    def on_stop(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    @task
    def next_request(self) -> None:
        request = next(self.turns)
        self.think_time_s = request["think_time_s"]
        body = base64.b64decode(request["body_b64"]) if request["body_b64"] is not None else None
        if request["api"] == "websocket":
            self._message(request, body or b"")
            return
        with self.client.request(
            request["method"],
            request["url"],
            name=request["name"],
            data=body,  # type: ignore[arg-type]  # bytes are sent as they are (its docstring)
            headers=request["headers"],
            allow_redirects=False,
            catch_response=True,
        ) as response:
            failed = http_failure(
                request["api"],
                response.status_code or 0,
                response.content or b"",
                getattr(response, "error", None),
            )
            if failed is None:
                response.success()
            else:
                response.failure(failed)

    def _message(self, request: dict, body: bytes) -> None:
        """One message and its reply, on this user's WebSocket connection."""
        started = time.perf_counter()
        failure: str | None = None
        reply: str | bytes = b""
        try:
            if self.socket is None:
                self.socket = connect(
                    request["url"],
                    additional_headers=request["headers"] or None,
                    open_timeout=SPEC["network_timeout_s"],
                )
                started = time.perf_counter()  # the handshake is not the message's time
            self.socket.send(body if request["binary"] else body.decode())
            reply = self.socket.recv(timeout=SPEC["network_timeout_s"])
        except Exception as exc:  # a closed or refused connection is a failure
            failure = failure_text(type(exc).__name__, str(exc))
            if self.socket is not None:
                self.socket.close()
            self.socket = None
        else:
            failure = websocket_failure(reply)
        self.environment.events.request.fire(
            request_type="WS",
            name=request["name"],
            response_time=(time.perf_counter() - started) * 1000,
            response_length=len(reply),
            exception=None if failure is None else RuntimeError(failure),
            context={},
        )
