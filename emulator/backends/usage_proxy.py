"""A counting reverse proxy in front of the backend endpoint: what the handlers' S3 and DynamoDB
calls would cost on AWS, measured at the socket, for any backend (moto, LocalStack, a URL).

Requests pass verbatim, Host included, since SigV4 signatures and presigned URLs sign the Host
the client used. Bodies stream both ways and are never decoded, except DynamoDB's small JSON,
which is read to size the items (``emulator.core.backend_usage``).
"""

from __future__ import annotations

import gzip
import json
import logging

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, MultiMapping
from yarl import URL

from emulator.core.backend_usage import (
    DYNAMODB_TARGET_PREFIX,
    dynamodb_units,
    request_service,
    s3_operation,
    s3_tier,
)
from emulator.core.backend_watch import FailureRun
from emulator.core.log_text import printable
from emulator.gateway.wire import OneLineClientErrors
from emulator.metrics import Metrics

log = logging.getLogger("timeoutlab.backend")

#: Meaningful for one connection only (RFC 9110 7.6.1), so never forwarded. Expect is answered
#: by this proxy itself (100 Continue) and is not part of SigV4 signatures.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te"}
    | {"trailer", "trailers", "transfer-encoding", "upgrade", "expect"}
)
#: Headers aiohttp's client adds when absent; skipped so the backend sees the client's request.
_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
_CHUNK = 64 * 1024


def _forwardable(headers: MultiMapping[str]) -> CIMultiDict[str]:
    """The end-to-end headers, every value kept; hop-by-hop ones and those that ``Connection``
    names are dropped."""
    named = {h.strip().lower() for h in headers.get("Connection", "").split(",")}
    drop = HOP_BY_HOP | named
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in drop)


def _json(body: bytes, encoding: str = "") -> dict:
    """A DynamoDB body as a dict, or {} when it is not one (units then come from the other)."""
    try:
        if encoding.lower() == "gzip":
            body = gzip.decompress(body)
        parsed = json.loads(body or b"{}")
    except (ValueError, OSError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


class UsageProxy:
    """Forwards everything to ``target_url`` and records each request into ``metrics``.

    A request counts as billed when the backend answered it below 500; backend 5xx answers and
    the proxy's own failures (502, backend unreachable) are counted as errors, by status.
    """

    def __init__(self, target_url: str, metrics: Metrics, host: str = "127.0.0.1") -> None:
        self.target_url = target_url.rstrip("/")
        self.metrics = metrics
        self.host = host
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        # Requests failed in a row for want of a backend: logged when the run starts and ends.
        self._failures = FailureRun()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, port: int = 0) -> str:
        """Serve on ``host`` and a free port (or ``port``); the URL to give the handlers."""
        self._session = aiohttp.ClientSession(
            auto_decompress=False,
            connector=aiohttp.TCPConnector(limit=0),  # as many as the handlers open directly
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # auto_decompress=False: a gzip-encoded upload is passed on as sent, not inflated.
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            auto_decompress=False,
            logger=OneLineClientErrors(),  # a malformed request: one line, not a traceback
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("backend usage proxy at %s -> %s", self.url, self.target_url)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = _forwardable(request.headers)
        path, _, query = request.raw_path.partition("?")
        service = request_service(query, headers)
        body: bytes | aiohttp.StreamReader | None = None
        if service == "dynamodb":
            body = await request.content.read()  # small JSON, needed to size the items
        elif request.body_exists:
            body = request.content
        response: web.StreamResponse | None = None
        try:
            async with self._session.request(
                request.method,
                URL(self.target_url + request.raw_path, encoded=True),
                headers=headers,
                data=body,
                skip_auto_headers=_AUTO_HEADERS,
                allow_redirects=False,
            ) as upstream:
                self._answered()
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                response.headers.extend(_forwardable(upstream.headers))
                if isinstance(body, bytes):
                    payload = await upstream.read()
                    encoding = upstream.headers.get("Content-Encoding", "")
                    self._record_dynamodb(upstream.status, headers, body, _json(payload, encoding))
                    await response.prepare(request)
                    await response.write(payload)
                else:
                    self._record(upstream.status, service, request.method, path, query, headers)
                    await response.prepare(request)
                    async for chunk in upstream.content.iter_chunked(_CHUNK):
                        await response.write(chunk)
                await response.write_eof()
                return response
        except (aiohttp.ClientError, TimeoutError) as exc:
            if response is not None and response.prepared:
                # Headers are gone: cut the connection so the client sees a short body.
                log.warning("stream %s %s cut: %s", request.method, printable(request.path), exc)
                raise
            self.metrics.backend_error(502)
            if self._failures.failure():
                log.warning(
                    "backend %s unreachable: %s %s failed: %s; the requests failing until it is "
                    "back are counted, not logged",
                    self.target_url,
                    request.method,
                    printable(request.path),
                    printable(exc),
                )
            return web.json_response(
                {
                    "__type": "ServiceUnavailable",
                    "message": f"the backend at {self.target_url} did not answer: {exc}",
                },
                status=502,
                headers={"x-amzn-ErrorType": "ServiceUnavailable"},
            )

    def _answered(self) -> None:
        """The backend answered: if requests failed before, say it is back and how many."""
        failed = self._failures.answered()
        if failed:
            log.warning(
                "backend %s answers again; %d request(s) failed while it was unreachable",
                self.target_url,
                failed,
            )

    def _record(
        self, status: int, service: str, method: str, path: str, query: str, headers: CIMultiDict
    ) -> None:
        if status >= 500:
            self.metrics.backend_error(status)
        elif service == "s3":
            operation = s3_operation(method, path, query, headers)
            self.metrics.backend_s3(operation, s3_tier(method, operation))
        else:
            self.metrics.backend_other()

    def _record_dynamodb(
        self, status: int, headers: CIMultiDict[str], body: bytes, response: dict
    ) -> None:
        if status >= 500:
            self.metrics.backend_error(status)
            return
        operation = headers["X-Amz-Target"].removeprefix(DYNAMODB_TARGET_PREFIX)
        units = dynamodb_units(operation, _json(body), response)
        self.metrics.backend_dynamodb(operation, *units)
