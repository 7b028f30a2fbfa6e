"""The size quota on a REST or HTTP API request's head: its request line and header values.

API Gateway's quotas for REST APIs and for HTTP APIs both list "Total combined size of request
line and header values: 10240 bytes", not adjustable
(https://docs.aws.amazon.com/apigateway/latest/developerguide/
api-gateway-execution-service-limits-table.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html). The WebSocket
API's quotas list no such limit, only 4096 characters of URL
(https://docs.aws.amazon.com/apigateway/latest/developerguide/
apigateway-execution-service-websocket-limits-table.html).

The size is counted as the quota words it: the request line (method, target as sent, version,
single spaces between them) plus each header's value, names and line breaks not counted, so
every head AWS accepts is accepted here too. AWS does not document its answer to a head over
the quota; users report a 431 (https://backbencher.dev/
solved-431-status-code-with-request-header-fields-too-large) saying "HTTP header is larger than
10240 bytes." (https://ntsblog.homedev.com.au/index.php/2021/03/09/
aws-api-gateway-http-header-is-larger-than-10240-bytes/): that status (RFC 6585 section 5,
"Request Header Fields Too Large") and that message, in the gateway's JSON error shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from emulator.core.responses import JSON, GatewayError, HttpResponse, gateway_json

#: The REST and HTTP API quota on the request line and header values combined, in bytes.
REQUEST_HEAD_LIMIT = 10240
#: The status of an answer to a head over the quota (RFC 6585 section 5).
HEAD_TOO_LARGE_STATUS = 431

#: The HTTP parser's own bounds on the HTTP ports (aiohttp's ``max_line_size`` and
#: ``max_field_size``, in bytes; ``max_headers``, a count). Each is above what a realistic head
#: within the quota holds, so such a head reaches the quota check, and a head past them gets
#: the same answer as one over the quota. A line: the quota plus 1 KB (aiohttp counts a header's
#: name with its value; the quota counts the value alone). Headers: 1024, eight times aiohttp's
#: default, where the quota itself sets no count. Together they bound the memory a connection's
#: head can hold before it is refused (about 11 MB, against aiohttp's 8190 x 128, 1 MB).
PARSER_MAX_LINE_BYTES = REQUEST_HEAD_LIMIT + 1024
PARSER_MAX_FIELD_BYTES = REQUEST_HEAD_LIMIT + 1024
PARSER_MAX_HEADERS = 1024


@dataclass(frozen=True)
class RequestHead:
    """A request's head as the client sent it: ``target`` is the path and query string with
    their percent-encoding, ``version`` e.g. "HTTP/1.1", ``header_values`` the raw bytes of each
    header's value (in order, repeats kept)."""

    method: str
    target: str
    version: str
    header_values: Sequence[bytes]

    @property
    def size(self) -> int:
        """Bytes the quota counts: the request line (without its CRLF) and every header value."""
        line = f"{self.method} {self.target} {self.version}".encode("utf-8", "surrogateescape")
        return len(line) + sum(len(value) for value in self.header_values)


class RequestHeadTooLarge(GatewayError):
    """A head over the quota: the gateway answers ``head_too_large()`` and invokes nothing."""

    def __init__(self, size: int, limit: int = REQUEST_HEAD_LIMIT) -> None:
        super().__init__(head_too_large(limit))
        self.size = size  # bytes counted
        self.limit = limit


def head_too_large(limit: int = REQUEST_HEAD_LIMIT) -> HttpResponse:
    """431 ``{"message":"HTTP header is larger than 10240 bytes."}`` (see the module's sources)."""
    body = gateway_json({"message": f"HTTP header is larger than {limit} bytes."})
    return HttpResponse(HEAD_TOO_LARGE_STATUS, [("Content-Type", JSON)], body)


def check_head(head: RequestHead, limit: int = REQUEST_HEAD_LIMIT) -> None:
    """Pass a head within ``limit`` bytes; raise ``RequestHeadTooLarge`` for one over it."""
    size = head.size
    if size > limit:
        raise RequestHeadTooLarge(size, limit)
