"""What AWS would bill for one S3 or DynamoDB request, from the request and response alone.

Pure rules for the usage proxy (``emulator/backends/usage_proxy.py``): it sees each request the
handlers make at the socket and asks here which service, which operation and how much. S3 bills
requests by pricing tier; DynamoDB on-demand bills read and write request units by item size.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl, unquote

DYNAMODB_TARGET_PREFIX = "DynamoDB_20120810."

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/[^/]+/[^/]+/([^/]+)/aws4_request")


def _lower(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {k.lower(): v for k, v in (headers or {}).items()}


def request_service(query: str, headers: Mapping[str, str] | None = None) -> str:
    """Which service a request to the shared endpoint is for: "s3", "dynamodb" or "other".

    DynamoDB is JSON over ``POST /`` named by ``X-Amz-Target``; any other target is another
    JSON service. Without one, the SigV4 credential scope (header or presigned query) names the
    service; unsigned requests are S3's, the only service here that serves anonymous GETs.
    """
    lowered = _lower(headers)
    target = lowered.get("x-amz-target", "")
    if target:
        return "dynamodb" if target.startswith(DYNAMODB_TARGET_PREFIX) else "other"
    scope = lowered.get("authorization", "")
    if not scope:
        presigned = dict(parse_qsl(query, keep_blank_values=True))
        scope = "Credential=" + presigned.get("X-Amz-Credential", "")
    match = _CREDENTIAL_SCOPE.search(scope)
    return "s3" if match is None or match.group(1) == "s3" else "other"


# -- S3 ----------------------------------------------------------------------------------------

#: Query keys that name a sub-resource (``?acl``, ``?tagging``...); presigned URLs' ``X-Amz-*``
#: and listing parameters are not among them.
_SUBRESOURCES = frozenset(
    {"acl", "attributes", "cors", "encryption", "legal-hold", "lifecycle", "location", "logging"}
    | {"notification", "object-lock", "policy", "retention", "tagging", "versioning", "website"}
)
#: LIST requests, priced with PUT, COPY and POST in tier 1.
_LIST_OPERATIONS = frozenset(
    {"ListBuckets", "ListObjects", "ListObjectsV2", "ListObjectVersions"}
    | {"ListMultipartUploads", "ListParts"}
)


def _camel(subresource: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in subresource.split("-"))


def _bucket_operation(method: str, params: dict[str, str], sub: str) -> str:
    if method == "GET":
        for name, operation in (
            ("versions", "ListObjectVersions"),
            ("uploads", "ListMultipartUploads"),
        ):
            if name in params:
                return operation
        if sub:
            return f"GetBucket{sub}"
        return "ListObjectsV2" if params.get("list-type") == "2" else "ListObjects"
    if method == "PUT":
        return f"PutBucket{sub}" if sub else "CreateBucket"
    if method == "POST":
        return "DeleteObjects" if "delete" in params else "PostObject"
    if method == "DELETE":
        return f"DeleteBucket{sub}"
    if method == "HEAD":
        return "HeadBucket"
    return f"{method.capitalize()}Bucket"


def s3_operation(
    method: str, path: str, query: str = "", headers: Mapping[str, str] | None = None
) -> str:
    """A readable S3 operation name (``PutObject``, ``ListObjectsV2``...) for a path-style request.

    Path-style (``/bucket/key``) is what the handlers use against an endpoint URL.
    """
    method = method.upper()
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    params = dict(parse_qsl(query, keep_blank_values=True))
    sub = next((_camel(k) for k in params if k in _SUBRESOURCES), "")
    copy = "x-amz-copy-source" in _lower(headers)
    if not bucket:
        return "ListBuckets" if method == "GET" else f"{method.capitalize()}Service"
    if not key:
        return _bucket_operation(method, params, sub)
    if method == "GET":
        return "ListParts" if "uploadId" in params else f"GetObject{sub}"
    if method == "PUT":
        if "uploadId" in params:
            return "UploadPartCopy" if copy else "UploadPart"
        return f"PutObject{sub}" if sub else "CopyObject" if copy else "PutObject"
    if method == "POST":
        for name, operation in (
            ("uploads", "CreateMultipartUpload"),
            ("uploadId", "CompleteMultipartUpload"),
            ("select", "SelectObjectContent"),
            ("restore", "RestoreObject"),
        ):
            if name in params:
                return operation
        return "PostObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in params else f"DeleteObject{sub}"
    if method == "HEAD":
        return "HeadObject"
    return f"{method.capitalize()}Object"


def s3_tier(method: str, operation: str) -> str:
    """S3's request pricing class: "tier1" (PUT, COPY, POST, LIST), "free" (DELETE, and CANCEL,
    which is the DELETE of a multipart upload) or "tier2" (GET, HEAD, SELECT and all others).

    DeleteObjects is a POST and priced as one here.
    """
    method = method.upper()
    if method == "DELETE":
        return "free"
    if operation in _LIST_OPERATIONS:
        return "tier1"
    if method in ("PUT", "POST") and operation != "SelectObjectContent":
        return "tier1"
    return "tier2"


def classify_s3(
    method: str, path: str, query: str = "", headers: Mapping[str, str] | None = None
) -> str:
    """The pricing class of one S3 request (see ``s3_tier``)."""
    return s3_tier(method, s3_operation(method, path, query, headers))


# -- DynamoDB ----------------------------------------------------------------------------------

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})


def _number_size(value: str) -> int:
    """1 byte per two significant digits, plus 1 (leading and trailing zeroes are trimmed)."""
    try:
        digits = len(Decimal(value).normalize().as_tuple().digits)
    except (InvalidOperation, ValueError):
        digits = len(value)
    return math.ceil(digits / 2) + 1


def _binary_size(value: str) -> int:
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return len(value) * 3 // 4


def attribute_size(value: Mapping) -> int:
    """The size of one attribute value in DynamoDB's wire JSON (``{"S": "..."}``), without name.

    Lists and maps cost 3 bytes plus their elements, and 1 byte more per element.
    """
    if not value:
        return 0
    kind, data = next(iter(value.items()))
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        return _number_size(str(data))
    if kind == "B":
        return _binary_size(str(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(v).encode()) for v in data)
    if kind == "NS":
        return sum(_number_size(str(v)) for v in data)
    if kind == "BS":
        return sum(_binary_size(str(v)) for v in data)
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in data)
    if kind == "M":
        return 3 + item_size(data) + len(data)
    return len(str(data).encode())


def item_size(item: Mapping | None) -> int:
    """An item's size: each attribute's UTF-8 name length plus its value's size."""
    return sum(len(name.encode()) + attribute_size(v) for name, v in (item or {}).items())


def _units(size: int, unit_bytes: int) -> int:
    return max(1, math.ceil(size / unit_bytes))


def _read(size: int, consistent: object) -> float:
    units = _units(size, READ_UNIT_BYTES)
    return float(units) if consistent else units / 2


def _batch_write_units(request_items: Mapping) -> float:
    total = 0
    for writes in request_items.values():
        for write in writes:
            put = write.get("PutRequest", {}).get("Item")
            key = write.get("DeleteRequest", {}).get("Key")
            total += _units(item_size(put if put is not None else key), WRITE_UNIT_BYTES)
    return float(total)


def _batch_get_units(request: Mapping, response: Mapping) -> float:
    total = 0.0
    unprocessed = response.get("UnprocessedKeys") or {}
    for table, asked in (request.get("RequestItems") or {}).items():
        found = (response.get("Responses") or {}).get(table, [])
        consistent = asked.get("ConsistentRead")
        total += sum(_read(item_size(item), consistent) for item in found)
        # A key read but not found costs the minimum, as a GetItem that finds nothing.
        processed = len(asked.get("Keys", [])) - len(unprocessed.get(table, {}).get("Keys", []))
        total += max(0, processed - len(found)) * _read(0, consistent)
    return total


def dynamodb_units(operation: str, request: Mapping, response: Mapping) -> tuple[float, float]:
    """(read request units, write request units) an on-demand table bills for one call.

    Approximations, since the proxy sees only what crosses the wire: UpdateItem and DeleteItem
    are sized by the larger of the request's Key and any Attributes the response returned (AWS
    uses the larger of the item before and after, which the client only sees with
    ``ReturnValues``); Query and Scan by the Items returned (AWS counts the items read before
    any filter). Errors cost nothing, except a failed condition on a write, which AWS bills.
    Control-plane calls (CreateTable, DescribeTable, ...) cost no request units.
    """
    error = str(response.get("__type", ""))
    if error and not (error.endswith("ConditionalCheckFailedException") and operation in _WRITES):
        return 0.0, 0.0
    if operation == "PutItem":
        return 0.0, float(_units(item_size(request.get("Item")), WRITE_UNIT_BYTES))
    if operation in ("UpdateItem", "DeleteItem"):
        size = max(item_size(request.get("Key")), item_size(response.get("Attributes")))
        return 0.0, float(_units(size, WRITE_UNIT_BYTES))
    if operation == "GetItem":
        return _read(item_size(response.get("Item")), request.get("ConsistentRead")), 0.0
    if operation in ("Query", "Scan"):
        size = sum(item_size(item) for item in response.get("Items") or [])
        return _read(size, request.get("ConsistentRead")), 0.0
    if operation == "BatchGetItem":
        return _batch_get_units(request, response), 0.0
    if operation == "BatchWriteItem":
        written = _batch_write_units(request.get("RequestItems") or {})
        return 0.0, written - _batch_write_units(response.get("UnprocessedItems") or {})
    if operation == "TransactGetItems":
        items = [r.get("Item") for r in response.get("Responses") or []]
        asked = len(request.get("TransactItems") or [])
        items += [None] * max(0, asked - len(items))
        return 2.0 * sum(_units(item_size(i), READ_UNIT_BYTES) for i in items), 0.0
    if operation == "TransactWriteItems":
        total = 0
        for action in request.get("TransactItems") or []:
            for kind, body in action.items():
                item = body.get("Item") if kind == "Put" else body.get("Key")
                total += _units(item_size(item), WRITE_UNIT_BYTES)
        return 0.0, 2.0 * total
    return 0.0, 0.0
