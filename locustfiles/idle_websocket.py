"""An idle WebSocket user for soak scenarios: ``locust -f locustfiles/idle_websocket.py``.

It connects to the WebSocket API, sends nothing, and waits for API Gateway to close the
connection with 1001 after its idle timeout (10 min on AWS; ``--ws-idle-timeout`` on the
emulator), then connects again. Each connection fires one ``events.request`` of type ``WS`` named
``idle close``: its response time is the emulated ms from the opening handshake request to the
close, and it fails when the close code is not 1001, or the close came before ``--idle-timeout``
(or very late): see ``judge``.

What holding connections costs is counted at the socket (TCP connections, bytes each way) with the
emulated connection-seconds and the closes, under ``websocket-idle``; it is printed when the test
stops and written to ``<--csv prefix>_idle_costs.csv``. It has a counter of its own, not the
per-report ``TOTALS`` of ``common``, because an idle connection delivers no report to divide by.
"""

from __future__ import annotations

import csv
import ssl
import time
from collections import Counter
from collections.abc import Mapping
from urllib.parse import urlsplit

from locust import User, events, task
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from locustfiles.common import reports_here, run_options_of, shared_totals, ws_url_for
from reportclient.results import Costs
from reportclient.wire import counting_socket, counting_ssl_context
from scenarios.catalog import IDLE_LABEL as LABEL
from scenarios.results import IDLE_CLOSE

GOING_AWAY = 1001
#: Real seconds a close may take to reach a loaded client beyond the emulated bound: the client's
#: own latency (its scheduling, the loopback) is real time, which the time scale does not shrink.
DELIVERY_SLACK_S = 1.0
#: label -> counts, in this process: connections, tcp_connections, tls_handshakes, bytes_sent,
#: bytes_received, ws_connection_s (emulated), idle_closes, early_closes, late_closes,
#: other_closes, refused, messages_received.
IDLE_TOTALS = shared_totals("timeoutlab_idle_costs")


def add_idle_counts(counts: Mapping[str, float]) -> None:
    """One connection's counts, summed here (workers send theirs to the master)."""
    IDLE_TOTALS[LABEL].update(counts)


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument_group("timeoutlab idle WebSocket").add_argument(
        "--idle-timeout",
        type=float,
        default=600.0,
        help="the gateway's WebSocket idle timeout in emulated seconds, to check closes against "
        "(default 600, AWS's 10 min; match the emulator's --ws-idle-timeout)",
    )


@events.test_stop.add_listener
def _report(environment, **_) -> None:
    if not reports_here(environment):
        return
    counts = IDLE_TOTALS.get(LABEL)
    if not counts:
        return
    row = {"label": LABEL, **{k: round(v, 3) for k, v in sorted(counts.items())}}
    print(f"\ntimeoutlab idle WebSocket costs ({LABEL}, measured at the clients' sockets):")
    print(
        f"  connections {row.get('connections', 0)}, idle closes (1001) "
        f"{row.get('idle_closes', 0)}, early {row.get('early_closes', 0)}, "
        f"late {row.get('late_closes', 0)}, other closes {row.get('other_closes', 0)}, "
        f"refused {row.get('refused', 0)}"
    )
    print(
        f"  connection-seconds (emulated) {row.get('ws_connection_s', 0)}, "
        f"bytes up {row.get('bytes_sent', 0)}, bytes down {row.get('bytes_received', 0)}"
    )
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix:
        with open(f"{prefix}_idle_costs.csv", "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(row))
            writer.writeheader()
            writer.writerow(row)


def judge(
    code: int | None,
    since_request_s: float,
    since_open_s: float,
    idle_timeout_s: float,
    late_by_s: float,
) -> tuple[str, str | None]:
    """(the count it adds to, the failure or None): a close must be 1001, on time or a bit late.

    The gateway starts its idle timer at an instant the client cannot see, somewhere between
    sending its handshake request (``since_request_s`` before it saw the close) and seeing the
    handshake answered (``since_open_s`` before), and the close reaches the client after the
    gateway sent it. So the close is early when it came before the idle timeout even counted from
    the request: then the gateway surely closed early, however slow the client. It is late when it
    came more than ``late_by_s`` after the idle timeout even counted from the open. Earliness is
    never allowed: a gateway that closes early would cut clients that AWS keeps; ``code`` None
    means the gateway never closed it within the wait.
    """
    if code is None:
        return "late_closes", (
            f"not closed within {since_open_s:.3f} s, idle timeout {idle_timeout_s:g} s"
        )
    if code != GOING_AWAY:
        return "other_closes", f"closed with {code}, not {GOING_AWAY}"
    if since_request_s < idle_timeout_s:
        return "early_closes", (
            f"early: after {since_request_s:.3f} s from the handshake request, "
            f"idle timeout {idle_timeout_s:g} s"
        )
    if since_open_s > idle_timeout_s + late_by_s:
        return "late_closes", (
            f"late: after {since_open_s:.3f} s from the open, idle timeout {idle_timeout_s:g} s"
        )
    return "idle_closes", None


class IdleWebsocketUser(User):
    """Holds one silent WebSocket at a time until the gateway closes it for idleness."""

    #: How late a close may come, as a fraction of the idle timeout (a loaded machine is slow).
    late_tolerance = 0.10

    def wait_time(self) -> float:
        """At once after a close; a short pause after a refused handshake (e.g. 429)."""
        return self.pause_s

    def on_start(self) -> None:
        parsed = self.environment.parsed_options
        rest_url = (self.host or "http://127.0.0.1:3000/dev").rstrip("/")
        ws_url = parsed.ws_url if parsed and parsed.ws_url else ws_url_for(rest_url)
        self.ws_url = ws_url.rstrip("/")
        self.cafile = parsed.cafile if parsed and parsed.cafile else None
        self.time_scale = run_options_of(self.environment).time_scale  # the emulator's
        # Locust run as a library may parse its options before this module registers its own.
        self.idle_timeout_s = float(getattr(parsed, "idle_timeout", None) or 600.0)
        self.pause_s = 0.0

    def _connect(self, costs: Costs) -> ClientConnection:
        parts = urlsplit(self.ws_url)
        secure = parts.scheme == "wss"
        timeout = max(5.0, 29 * self.time_scale * 2)  # $connect runs under the 29 s timeout
        sock = counting_socket(
            parts.hostname or "127.0.0.1", parts.port or (443 if secure else 80), costs, timeout
        )
        context: ssl.SSLContext | None = (
            counting_ssl_context(costs, self.cafile) if secure else None
        )
        return connect(
            self.ws_url,
            sock=sock,
            ssl=context,
            open_timeout=timeout,
            compression=None,
            ping_interval=None,  # truly silent; pings would not count as activity anyway
            close_timeout=1.0,
        )

    @task
    def hold_until_closed(self) -> None:
        """Open one connection, hold it silent until the gateway closes it, judge the close.

        Its time is measured from just before the opening handshake request (the socket's
        connect): no later than the instant the gateway starts the connection's timers, so a
        connection is never counted shorter than the gateway held it."""
        costs = Costs()
        counts: Counter = Counter()
        requested_at = time.monotonic()
        opened_at: float | None = None
        try:
            try:
                ws = self._connect(costs)
            except (WebSocketException, OSError) as exc:
                counts["refused"] += 1
                self.pause_s = max(0.05, self.time_scale)  # one emulated second: the rate limit
                status = exc.response.status_code if isinstance(exc, InvalidStatus) else None
                self._fire(0.0, 0, f"connect failed: {status or type(exc).__name__}")
                return
            with ws:
                opened_at = time.monotonic()
                counts["connections"] += 1
                try:
                    closed = self._wait_for_close(ws, counts)
                except BaseException:  # Locust stops the user: close with 1000, not `with`'s 1011
                    ws.close()
                    raise
                seen_at = time.monotonic()
                code = (ws.close_code or 1005) if closed else None
            self.pause_s = 0.0
            since_request_s = (seen_at - requested_at) / self.time_scale
            since_open_s = (seen_at - opened_at) / self.time_scale
            kind, failure = judge(
                code, since_request_s, since_open_s, self.idle_timeout_s, self._late_by_s()
            )
            counts[kind] += 1
            self._fire(since_request_s * 1000, costs.bytes_received, failure)
        finally:  # also when Locust stops the user mid-wait: count what was held
            if opened_at is not None:
                # typeshed types Counter values as int; Counter itself sums any number.
                counts["ws_connection_s"] += (  # type: ignore[assignment]
                    time.monotonic() - requested_at
                ) / self.time_scale
            for kind in ("tcp_connections", "tls_handshakes", "bytes_sent", "bytes_received"):
                counts[kind] += getattr(costs, kind)
            add_idle_counts(counts)

    def _late_by_s(self) -> float:
        """Emulated seconds past the idle timeout, counted from the open, before a close is late:
        ``late_tolerance`` of it, and the real DELIVERY_SLACK_S that the time scale does not
        shrink."""
        return self.idle_timeout_s * self.late_tolerance + DELIVERY_SLACK_S / self.time_scale

    def _wait_for_close(self, ws: ClientConnection, counts: Counter) -> bool:
        """Block until the server closes (True) or a bounded wait passes (False): as long as a
        close that ``judge`` does not call late may take."""
        limit = (self.idle_timeout_s + self._late_by_s()) * self.time_scale
        deadline = time.monotonic() + limit
        while True:
            try:
                ws.recv(timeout=max(0.0, deadline - time.monotonic()))
                counts["messages_received"] += 1  # unexpected: the gateway sends nothing unasked
            except TimeoutError:
                return False  # the caller's ``with`` closes it; judge() calls it late
            except WebSocketException:  # ConnectionClosed: the close code is on ``ws``
                return True

    def _fire(self, response_time_ms: float, length: int, failure: str | None) -> None:
        self.environment.events.request.fire(
            request_type=IDLE_CLOSE[0],
            name=IDLE_CLOSE[1],
            response_time=response_time_ms,
            response_length=length,
            exception=None if failure is None else RuntimeError(failure),
            context={"strategy": LABEL},
        )
