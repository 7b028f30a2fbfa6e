"""Counting at the socket: connections, TLS handshakes and bytes each way.

HTTP goes through httpx with an httpcore network backend whose streams count what they read and
write; WebSockets go through websockets' client over a counting socket. Both count the bytes the
application exchanges with the socket (for TLS, the plaintext side of it), which is also where the
emulator counts them, so the two figures can be compared.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

import httpcore
import httpx

from reportclient.results import Costs

#: Told of each connection step as it ends: its name ("tcp", "tls") and when it started
#: (``time.monotonic()``).
OnConnect = Callable[[str, float], None]


def _ignore(name: str, started: float) -> None:
    pass


class _CountingStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, costs: Costs, on_connect: OnConnect) -> None:
        self._stream = stream
        self._costs = costs
        self._on_connect = on_connect

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._stream.read(max_bytes, timeout)
        self._costs.bytes_received += len(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)
        self._costs.bytes_sent += len(buffer)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        started = time.monotonic()
        secure = self._stream.start_tls(ssl_context, server_hostname, timeout)
        self._costs.tls_handshakes += 1
        self._on_connect("tls", started)
        return _CountingStream(secure, self._costs, self._on_connect)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _CountingBackend(httpcore.SyncBackend):
    def __init__(self, costs: Costs, on_connect: OnConnect) -> None:
        self._costs = costs
        self._on_connect = on_connect

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        started = time.monotonic()
        stream = super().connect_tcp(host, port, timeout, local_address, socket_options)
        self._costs.tcp_connections += 1
        self._on_connect("tcp", started)
        return _CountingStream(stream, self._costs, self._on_connect)


def http_client(
    costs: Costs,
    *,
    timeout: float,
    verify: ssl.SSLContext | bool = True,
    on_connect: OnConnect = _ignore,
) -> httpx.Client:
    """An httpx client whose connections, requests and bytes land in ``costs``, and whose
    connection steps are told to ``on_connect``."""
    transport = httpx.HTTPTransport(verify=verify)
    # httpx builds its httpcore pool without a backend hook; give it one that counts.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=transport._pool._ssl_context,
        network_backend=_CountingBackend(costs, on_connect),
    )

    def count_request(_: httpx.Request) -> None:
        costs.http_requests += 1

    return httpx.Client(
        transport=transport, timeout=timeout, event_hooks={"request": [count_request]}
    )


class _CountsBytes:
    """Mixed into a socket class: counts what ``recv`` and ``sendall`` carry."""

    costs: Costs

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:  # SSLSocket's signature
        data = super().recv(buflen, flags)  # type: ignore[misc]
        self.costs.bytes_received += len(data)
        return data

    def sendall(self, data, flags: int = 0) -> None:
        super().sendall(data, flags)  # type: ignore[misc]
        self.costs.bytes_sent += len(data)


class _CountingSocket(_CountsBytes, socket.socket):
    pass


class _CountingSSLSocket(_CountsBytes, ssl.SSLSocket):
    def do_handshake(self, block: bool = False) -> None:
        super().do_handshake(block)
        self.costs.tls_handshakes += 1


def counting_socket(host: str, port: int, costs: Costs, timeout: float) -> socket.socket:
    """A connected TCP socket that counts, for websockets' ``connect(sock=...)``."""
    plain = socket.create_connection((host, port), timeout=timeout)
    counted = type("Counted", (_CountingSocket,), {"costs": costs})(fileno=plain.detach())
    costs.tcp_connections += 1
    return counted


def counting_ssl_context(costs: Costs, cafile: str | None = None) -> ssl.SSLContext:
    """An SSL context (trusting ``cafile`` if given) whose sockets count into ``costs``."""
    context = ssl.create_default_context(cafile=cafile)
    context.sslsocket_class = type("Counted", (_CountingSSLSocket,), {"costs": costs})
    return context
