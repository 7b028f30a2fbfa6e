"""Counting at the socket: connections, TLS handshakes and bytes each way.

HTTP goes through httpx with an httpcore network backend whose streams count what they read and
write; WebSockets go through websockets' client over a counting socket. Both count the bytes the
application exchanges with the socket (for TLS, the plaintext side of it), which is also where the
emulator counts them, so the two figures can be compared.
"""

from __future__ import annotations

import functools
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx
from httpx import create_ssl_context

from reportclient.results import Costs

#: Told of each connection step as it ends: its name ("tcp", "tls") and when it started
#: (``time.monotonic()``).
OnConnect = Callable[[str, float], None]


def _ignore(name: str, started: float) -> None:
    pass


@functools.lru_cache(maxsize=16)
def verify_context(cafile: str | None = None) -> ssl.SSLContext:
    """The SSL context that verifies servers against the system's CAs, or ``cafile``'s: made
    once per ``cafile`` and shared by every client after, never changed once made.

    Making one loads and parses the whole CA bundle, about 20 ms of CPU here; a load test that
    made one per report (each report opens its own HTTP client) spent that on every report, in the
    time to result it measures and on the cores the emulator shares. A context is safe to share
    between threads and connections (https://docs.python.org/3/library/ssl.html#ssl-contexts).
    """
    return ssl.create_default_context(cafile=cafile)


class _CountingStream(httpcore.NetworkStream):
    """One connection's stream, wrapped: counts the bytes ``read`` returns and ``write`` sends."""

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


class CountingBackend(httpcore.NetworkBackend):
    """httpcore's public network-backend interface around another backend (by default httpcore's
    own ``SyncBackend``): every TCP connection it opens lands in ``costs.tcp_connections`` and is
    told to ``on_connect`` ("tcp"), and its streams count bytes each way into ``costs``.

    httpcore documents network backends as the place to wrap or replace the socket layer
    (https://www.encode.io/httpcore/network-backends/). Unix sockets are not counted: the
    strategies only speak TCP.
    """

    def __init__(
        self,
        costs: Costs,
        on_connect: OnConnect = _ignore,
        backend: httpcore.NetworkBackend | None = None,
    ) -> None:
        self._costs = costs
        self._on_connect = on_connect
        self._backend = backend or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        started = time.monotonic()
        stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        self._costs.tcp_connections += 1
        self._on_connect("tcp", started)
        return _CountingStream(stream, self._costs, self._on_connect)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        return self._backend.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    """httpcore's exceptions as the httpx ones of the same name (``httpx.ConnectError``, ...),
    which is what httpx's own transport raises and what the strategies catch."""
    try:
        yield
    except httpcore.UnsupportedProtocol as exc:
        raise httpx.UnsupportedProtocol(str(exc)) from exc
    except Exception as exc:
        for kind in type(exc).__mro__:
            if kind.__module__.startswith("httpcore") and hasattr(httpx, kind.__name__):
                raise getattr(httpx, kind.__name__)(str(exc)) from exc
        raise


class _ResponseBody(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class CountingTransport(httpx.BaseTransport):
    """An httpx transport on an httpcore ``ConnectionPool`` whose network backend counts.

    httpx 0.28 has no public argument to give ``HTTPTransport`` a network backend, so this is a
    custom transport, httpx's public extension point
    (https://www.python-httpx.org/advanced/transports/#custom-transports), that hands each request
    to an httpcore pool built with ``network_backend=CountingBackend(...)``. Timeouts travel in the
    request's ``timeout`` extension, as with httpx's own transport; httpcore's errors surface as the
    httpx errors of the same name.
    """

    def __init__(
        self,
        costs: Costs,
        *,
        verify: ssl.SSLContext | bool = True,
        on_connect: OnConnect = _ignore,
    ) -> None:
        if isinstance(verify, ssl.SSLContext):
            context = verify
        else:  # True: the shared system-CA context; False: no verification (cheap to make)
            context = verify_context() if verify else create_ssl_context(verify=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            network_backend=CountingBackend(costs, on_connect),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            response = self._pool.handle_request(core_request)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseBody(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def http_client(
    costs: Costs,
    *,
    timeout: float,
    verify: ssl.SSLContext | bool = True,
    on_connect: OnConnect = _ignore,
) -> httpx.Client:
    """An httpx client whose connections, requests and bytes land in ``costs``, and whose
    connection steps are told to ``on_connect``.

    Bytes are those the HTTP layer reads from and writes to each connection (for TLS, the plaintext
    side), which is where the emulator counts them too. ``timeout`` is in real seconds.
    """
    transport = CountingTransport(costs, verify=verify, on_connect=on_connect)

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
