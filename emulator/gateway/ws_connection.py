"""One WebSocket connection: websockets' sans-I/O protocol bound to its socket, with its limits.

Everything written to the socket goes through ``flush`` and is counted there, so the byte figures
are what crossed the wire. Outgoing messages are cut into frames of at most 32 KB, as AWS does.
"""

from __future__ import annotations

import asyncio

from websockets.frames import CloseCode
from websockets.protocol import State
from websockets.server import ServerProtocol

from emulator.clock import Clock
from emulator.core.connection_limits import Lifetime, WebSocketLimits, frame_too_big
from emulator.core.websocket_events import ConnectionInfo
from emulator.metrics import Metrics


class LimitedProtocol(ServerProtocol):
    """websockets' protocol for an open connection, whose own size limit is only a backstop.

    The core's limits (``MessageAssembler``) see a frame once it has been read whole, so the
    library keeps a size limit of its own (a message limit plus one frame) against a peer that
    announces a huge frame. Only a frame over the frame limit can reach it first, and AWS closes
    a connection for a frame over 32 KB with 1009
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html): the library's
    close then says what the core would have said, not the library's own wording.
    """

    def __init__(self, limits: WebSocketLimits) -> None:
        super().__init__(
            state=State.OPEN, max_size=limits.max_message_bytes + limits.max_frame_bytes
        )
        self._frame_close = frame_too_big(limits)
        self._parsing = False

    def receive_data(self, data: bytes | bytearray) -> None:
        self._parsing = True
        try:
            super().receive_data(data)
        finally:
            self._parsing = False

    def fail(self, code: int, reason: str = "") -> None:
        if self._parsing and code == CloseCode.MESSAGE_TOO_BIG:  # the library's backstop
            code, reason = self._frame_close.code, self._frame_close.reason
        super().fail(code, reason)


class WebSocketConnection:
    def __init__(
        self,
        info: ConnectionInfo,
        protocol: ServerProtocol,
        writer: asyncio.StreamWriter,
        *,
        limits: WebSocketLimits,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self.info = info
        self.id = info.connection_id
        self.protocol = protocol
        self.writer = writer
        self.limits = limits
        self.metrics = metrics
        self.clock = clock
        self.lifetime = Lifetime(clock.now(), limits)
        self.last_active_epoch = info.connected_at_ms / 1000
        self.established = False  # until $connect accepted it, @connections says Gone
        self.failed = False  # closed for breaking a rule: nothing more it sent is processed

    def establish(self) -> None:
        """The handshake succeeded: the connection's timers start now."""
        self.established = True
        self.lifetime = Lifetime(self.clock.now(), self.limits)
        self.last_active_epoch = self.clock.epoch()

    @property
    def open(self) -> bool:
        return self.established and self.protocol.state is State.OPEN

    def write(self, data: bytes) -> None:
        """Bytes to the socket, counted."""
        self.writer.write(data)
        self.metrics.ws_wire(sent=len(data))

    def flush(self) -> None:
        """Write what the protocol has for the socket; an empty chunk asks for end of stream."""
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.write(chunk)
            elif not self.writer.is_closing():
                # The server closes TCP first; TLS has no half-close, so close it whole.
                if self.writer.can_write_eof():
                    self.writer.write_eof()
                else:
                    self.writer.close()

    def activity(self) -> None:
        """A data message went either way: the idle timer starts again."""
        self.lifetime.touch(self.clock.now())
        self.last_active_epoch = self.clock.epoch()

    def send_message(self, data: str | bytes, *, binary: bool = False) -> bool:
        """Send one message (fragmented into 32 KB frames); False if the connection is not open."""
        if not self.open:
            return False
        payload = data.encode() if isinstance(data, str) else data
        size = self.limits.max_frame_bytes
        frames = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
        first, rest = frames[0], frames[1:]
        (self.protocol.send_binary if binary else self.protocol.send_text)(first, fin=not rest)
        for i, frame in enumerate(rest):
            self.protocol.send_continuation(frame, fin=i == len(rest) - 1)
        self.metrics.ws_message("out", len(payload))
        self.activity()
        self.flush()
        return True

    def close(self, code: int, reason: str = "") -> None:
        """Start the closing handshake (the peer answers; the read loop then ends)."""
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(code, reason)
            self.flush()

    def fail(self, code: int, reason: str) -> None:
        """Close at once because the peer broke a rule (e.g. 1009 for a message too big).

        The close frame goes out first, then end of stream. Frames that came in the same read
        as the offending one are not processed (``failed``): RFC 6455 section 7.1.7 says an
        endpoint that fails a connection "MUST NOT continue to attempt to process data" from
        the peer, and AWS closes the connection at the message that passed its size quota
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html)."""
        self.failed = True
        if self.protocol.state in (State.OPEN, State.CLOSING):
            self.protocol.fail(code, reason)
            self.flush()
