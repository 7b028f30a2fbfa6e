"""Counting the HTTP port's traffic at the socket, under aiohttp.

Each accepted connection gets a protocol that counts what it reads and a transport that counts
what is written, then hands both on to aiohttp untouched. A connection is filed under the API its
first request is for (REST API, the Lambda Invoke API the handlers call, or /_emulator/), so the
REST figures compare with what clients measured on their side.
"""

from __future__ import annotations

import asyncio
from typing import Any

from emulator.metrics import Metrics

CONTROL_PREFIX = b"/_emulator"
LAMBDA_PREFIX = b"/2015-03-31/"


def _category(first_bytes: bytes) -> str:
    parts = first_bytes.split(b" ", 2)
    path = parts[1] if len(parts) > 1 else b""
    if path.startswith(CONTROL_PREFIX):
        return "control"
    if path.startswith(LAMBDA_PREFIX):
        return "lambda_api"
    return "rest"


class _CountingTransport:
    """Passes everything to the real transport, counting the bytes written."""

    def __init__(self, transport: asyncio.Transport, counter: _CountingProtocol) -> None:
        self._transport = transport
        self._counter = counter

    def write(self, data: bytes) -> None:
        self._counter.sent(len(data))
        self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        chunks = list(chunks)
        self._counter.sent(sum(len(c) for c in chunks))
        self._transport.writelines(chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _CountingProtocol(asyncio.Protocol):
    def __init__(
        self, inner: asyncio.Protocol, metrics: Metrics, category: str | None = None
    ) -> None:
        self._inner = inner
        self._metrics = metrics
        self._fixed = category
        self._category: str | None = None
        self._pending_sent = 0

    def sent(self, count: int) -> None:
        if self._category is None:
            self._pending_sent += count
        else:
            self._metrics.http_wire(self._category, sent=count)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(_CountingTransport(transport, self))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self._category is None:
            self._category = self._fixed or _category(data)
            self._metrics.http_connection(self._category)
            if self._pending_sent:
                self._metrics.http_wire(self._category, sent=self._pending_sent)
        self._metrics.http_wire(self._category, received=len(data))
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


def counting_factory(inner_factory: Any, metrics: Metrics, category: str | None = None) -> Any:
    """Wrap aiohttp's protocol factory (``AppRunner.server``). With ``category`` every
    connection is filed under it (the HTTP API's port: ``http_api``); else by its first request."""
    return lambda: _CountingProtocol(inner_factory(), metrics, category)
