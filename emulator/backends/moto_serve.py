"""moto's WSGI application served with HTTP/1.1 keep-alive: the embedded backend's process.

``python -m moto.server`` serves moto with Werkzeug's development server, which closes every
connection after one response (it sends ``Connection: close`` whatever the protocol version), so
each S3 or DynamoDB call the usage proxy forwards paid a TCP connect and a new thread, and logged
an access line. Here the same application, ``moto.server.DomainDispatcherApplication`` over
``create_backend_app``, is served by gevent's WSGI server, which keeps connections alive, with no
access log. The dispatcher's choice of a backend for a host name, which lists moto's package
directory on every request, is remembered per host name (``CachedDispatcher``): the directory
does not change while the process runs.

Run as ``python -m emulator.backends.moto_serve -H HOST -p PORT`` (the options of
``moto.server`` that timeoutlab uses). gevent's sockets serve each connection in a greenlet; the
process is not monkey-patched, so moto runs as in a plain thread, one request at a time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
from typing import Any

from gevent.pywsgi import WSGIHandler, WSGIServer
from moto.core.request import (
    PRESERVED_HEADER_NAMES_ENVIRON_KEY,
    environ_key_for_header,
    should_preserve_original_header_name,
)
from moto.server import DomainDispatcherApplication, create_backend_app

from emulator.lifeline import hold

#: Host names remembered per process; far more than the services a stack uses.
_HOSTS_REMEMBERED = 1024


class CachedDispatcher(DomainDispatcherApplication):
    """moto's dispatcher, with each host name's backend looked up once.

    ``get_backend_for_host`` is a pure function of the host name and moto's installed modules
    (it lists moto's package directory, then tries every backend's URL patterns), so its answer
    for a host name is kept; ``None`` answers are kept too (the caller then infers the service
    from the request and asks again with another host name).
    """

    def __init__(self) -> None:
        super().__init__(create_backend_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        try:
            return self._backends[host]
        except KeyError:
            backend = super().get_backend_for_host(host)
            if len(self._backends) < _HOSTS_REMEMBERED:
                self._backends[host] = backend
            return backend


class MotoHandler(WSGIHandler):
    """gevent's request handler, keeping S3 metadata headers whose names have underscores as
    moto's own request handler does (``x-amz-meta-a_b``): gevent drops such headers from the
    WSGI environ, so they are put back under their environ keys, with their names recorded
    where moto looks for them."""

    def handle(self) -> None:
        """Serve one connection, its writes unbuffered by Nagle's algorithm: a response's
        headers and body leave as separate writes, and with delayed ACKs a kept-alive
        connection otherwise waits about 40 ms per request for the second one."""
        with contextlib.suppress(OSError):
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        names: dict[str, str] = {}
        values: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            if not should_preserve_original_header_name(name):
                continue
            key = environ_key_for_header(name)
            if key in environ:  # a dashed header of the same key wins, as in moto
                continue
            names.setdefault(key, name)
            values.setdefault(key, []).append(value.replace("\r\n", ""))
        for key, key_values in values.items():
            environ[key] = ",".join(key_values)
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names
        return environ


def serve(host: str, port: int) -> None:
    """Serve moto on ``host:port`` until SIGTERM (then exit code 0), or until the emulator's
    lifeline ends (``emulator.lifeline``: the emulator died, however).

    SIGINT is ignored: a terminal's Ctrl-C reaches the whole foreground process group, and the
    backend must outlive the emulator's graceful stop (in-flight handlers still call it); the
    emulator ends it with SIGTERM once they are done."""
    hold()
    os.environ.setdefault("MOTO_PORT", str(port))  # as moto.server does: moto's own URLs
    application = CachedDispatcher()
    server = WSGIServer((host, port), application, handler_class=MotoHandler, log=None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="moto's server, with keep-alive")
    parser.add_argument("-H", "--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("-p", "--port", type=int, default=4566, help="port to bind")
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
