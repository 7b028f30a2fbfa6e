"""``GET /_emulator/live``: the live view's figures as Server-Sent Events.

Once a second (real) the stream looks at the figures (``emulator.core.live_view``) and sends an
event named ``live`` when some changed: the first holds them all, later ones only what changed.
A comment line goes out after 15 s without one. A stream ends when its client goes (its
transport closes), when the emulator stops (``close``), and at most ``MAX_LIVE_STREAMS`` run at
once (503 past that).

It is under the control plane's access rules like ``/_emulator/metrics``, whose figures it
shows: with ``--control-token`` it needs ``Authorization: Bearer TOKEN``. The page sends that
header by reading the stream with ``fetch`` (EventSource cannot send headers), never as a query
parameter, which would land in logs and browser history.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from aiohttp import web

from emulator.core.control_access import ControlAccess
from emulator.core.live_view import (
    LIVE_EVENT,
    LIVE_KEEPALIVE_S,
    LIVE_PERIOD_S,
    MAX_LIVE_STREAMS,
    LiveFigures,
    changes,
)
from emulator.core.sse import EVENT_STREAM, comment, event
from emulator.gateway.control import PREFIX, guarded

LIVE_PATH = f"{PREFIX}/live"


class LiveStream:
    """Serves ``LIVE_PATH``: ``figures()`` is read every ``period_s`` real seconds (on the
    event loop's clock) while a client listens."""

    def __init__(
        self,
        access: ControlAccess,
        figures: Callable[[], LiveFigures],
        *,
        period_s: float = LIVE_PERIOD_S,
        keepalive_s: float = LIVE_KEEPALIVE_S,
        max_streams: int = MAX_LIVE_STREAMS,
    ) -> None:
        self.access = access
        self.figures = figures
        self.period_s = period_s
        self.keepalive_s = keepalive_s
        self.max_streams = max_streams
        self.open_streams = 0
        self._closing = asyncio.Event()

    def add_routes(self, app: web.Application) -> None:
        """Register ``GET LIVE_PATH``, before the control plane's catch-all."""
        app.router.add_get(LIVE_PATH, guarded(self.access, self.handle))

    def close(self) -> None:
        """End every open stream (the emulator stops): their handlers return at their next look."""
        self._closing.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET LIVE_PATH``: 200 ``text/event-stream`` until the client goes or the emulator
        stops; 503 (JSON ``message``) past ``max_streams`` or while stopping."""
        if self._closing.is_set():
            return web.json_response({"message": "the emulator is stopping"}, status=503)
        if self.open_streams >= self.max_streams:
            return web.json_response(
                {"message": f"too many live streams open (at most {self.max_streams})"},
                status=503,
            )
        response = web.StreamResponse(
            headers={
                "Content-Type": EVENT_STREAM,
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
            }
        )
        await response.prepare(request)
        self.open_streams += 1
        try:
            await self._stream(request, response)
        except ConnectionError:
            pass  # the client went while an event was being written
        finally:
            self.open_streams -= 1
        return response

    async def _stream(self, request: web.Request, response: web.StreamResponse) -> None:
        loop = asyncio.get_running_loop()
        previous: LiveFigures | None = None
        quiet_since = loop.time()
        sequence = 0
        while not self._closing.is_set():
            transport = request.transport
            if transport is None or transport.is_closing():
                return  # the client went
            current = self.figures()
            changed = changes(previous, current)
            if changed:
                sequence += 1
                data = json.dumps(changed, separators=(",", ":"))
                await response.write(event(data, name=LIVE_EVENT, event_id=str(sequence)))
                previous, quiet_since = current, loop.time()
            elif loop.time() - quiet_since >= self.keepalive_s:
                await response.write(comment("no change"))
                quiet_since = loop.time()
            try:
                await asyncio.wait_for(self._closing.wait(), self.period_s)
            except TimeoutError:
                continue
