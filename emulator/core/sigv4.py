"""AWS Signature Version 4 on the APIs AWS only answers signed: @connections and Lambda Invoke.

Two steps, both pure (no clock, no socket):

- ``signature_fields`` reads the signature a request carries, in its ``Authorization`` header or
  its query string (a presigned URL), into ``SignatureFields``, or raises
  ``MissingAuthenticationToken`` (no signature at all) or ``IncompleteSignature`` (one that does
  not have SigV4's form);
- ``verify`` recomputes the signature over the request as received with botocore's signer and
  the emulator's credentials, and raises ``UnrecognizedClient`` (another access key) or
  ``InvalidSignature`` (another signature).

The refusals are ``GatewayError`` subclasses: each knows its 403 answer, with the AWS error type
in ``x-amzn-ErrorType`` so boto3 raises the ``ClientError`` code AWS would.

AWS sources:
- the signed request's form (``Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/
  SERVICE/aws4_request, SignedHeaders=..., Signature=...`` and ``X-Amz-Date``; the same fields as
  ``X-Amz-*`` query parameters for a presigned URL):
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
- the errors: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html
  (an unsigned request gets "Missing Authentication Token"; a wrong signature "The request
  signature we calculated does not match the signature you provided") and Lambda's common
  errors, https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html (IncompleteSignature
  403, UnrecognizedClientException 403, the access key "does not exist in our records").
- the request's age: "In most cases, a request must reach AWS within five minutes of the time
  stamp in the request. Otherwise, AWS denies the request"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_aws-signing.html); a presigned
  URL is good until its ``X-Amz-Expires`` (at most 7 days) has passed
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-query-string-auth.html).
- @connections must be signed: "To use [the @connections API], you must sign the request with
  SigV4" (IAM permission ``execute-api:ManageConnections``),
  https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-how-to-call-websocket-api-connections.html
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from hashlib import sha256
from urllib.parse import parse_qsl

from botocore.auth import SIGV4_TIMESTAMP, UNSIGNED_PAYLOAD, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials as BotocoreCredentials

from emulator.core.responses import (
    GatewayError,
    HttpResponse,
    incomplete_signature,
    invalid_signature,
    missing_authentication_token,
    unrecognized_client,
)

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
#: The service names the two APIs are signed for (the credential scope's fourth element).
MANAGEMENT_SERVICE = "execute-api"
LAMBDA_SERVICE = "lambda"
#: The header and query parameter names of a SigV4 signature.
AUTHORIZATION = "authorization"
AMZ_DATE = "x-amz-date"
CONTENT_SHA256 = "x-amz-content-sha256"
QUERY_ALGORITHM = "X-Amz-Algorithm"
QUERY_CREDENTIAL = "X-Amz-Credential"
QUERY_DATE = "X-Amz-Date"
QUERY_SIGNED_HEADERS = "X-Amz-SignedHeaders"
QUERY_SIGNATURE = "X-Amz-Signature"
QUERY_EXPIRES = "X-Amz-Expires"
#: How far a signed request's time may be from the emulator's (real) clock, either way: "a
#: request must reach AWS within five minutes of the time stamp in the request"
#: (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_aws-signing.html).
MAX_CLOCK_SKEW = datetime.timedelta(minutes=5)
#: The longest ``X-Amz-Expires`` a presigned URL may have: 604800 s, 7 days
#: (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-query-string-auth.html).
MAX_PRESIGNED_EXPIRY = datetime.timedelta(days=7)
_QUERY_FIELDS = (
    QUERY_ALGORITHM,
    QUERY_CREDENTIAL,
    QUERY_SIGNATURE,
    QUERY_DATE,
    QUERY_SIGNED_HEADERS,
)


# -- refusals -------------------------------------------------------------------------------------


class SignatureRefusal(GatewayError):
    """A request refused for its signature: 403 with ``error_type`` and ``message``."""

    error_type = ""

    def __init__(self, response: HttpResponse, message: str) -> None:
        super().__init__(response)
        self.message = message


class MissingAuthenticationToken(SignatureRefusal):
    """No signature: no ``Authorization`` header and no ``X-Amz-*`` query parameters."""

    error_type = "MissingAuthenticationTokenException"

    def __init__(self) -> None:
        super().__init__(missing_authentication_token(), "Missing Authentication Token")


class IncompleteSignature(SignatureRefusal):
    """A signature without SigV4's form: a field missing, a malformed credential scope or date."""

    error_type = "IncompleteSignatureException"

    def __init__(self, message: str) -> None:
        super().__init__(incomplete_signature(message), message)


class UnrecognizedClient(SignatureRefusal):
    """Signed with an access key the emulator does not have (``--credentials`` names another)."""

    error_type = "UnrecognizedClientException"

    def __init__(self) -> None:
        response = unrecognized_client()
        super().__init__(response, "The security token included in the request is invalid.")


class InvalidSignature(SignatureRefusal):
    """The signature is not the one the emulator's secret key gives for this request."""

    error_type = "InvalidSignatureException"

    def __init__(self, message: str) -> None:
        super().__init__(invalid_signature(message), message)


# -- the signature a request carries --------------------------------------------------------------


@dataclass(frozen=True)
class SignatureFields:
    """A SigV4 signature as a request carries it.

    ``date`` and ``region``/``service`` are the credential scope's (``YYYYMMDD``, e.g.
    ``us-east-1``/``lambda``); ``timestamp`` the request's own time, ``YYYYMMDDTHHMMSSZ`` (from
    ``X-Amz-Date``, else ``Date``); ``signed_headers`` lower-case, as listed; ``in_query`` for a
    presigned URL's ``X-Amz-*`` parameters."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    in_query: bool = False
    expires: int | None = None  # a presigned URL's X-Amz-Expires, seconds

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{TERMINATOR}"


#: The environment variable ``--credentials`` defaults to: a secret there is not shown by
#: ``ps``, as one on the command line is.
CREDENTIALS_VARIABLE = "TIMEOUTLAB_CREDENTIALS"


@dataclass(frozen=True)
class Credentials:
    """The one access key the emulator recognises (``--credentials KEY:SECRET``)."""

    access_key: str
    secret_key: str

    @classmethod
    def parse(cls, text: str) -> Credentials:
        """``KEY:SECRET`` (the secret may hold colons); ValueError says what is wrong without
        quoting ``text``, which may be a secret (an error message ends up in logs and CI
        output)."""
        key, colon, secret = text.partition(":")
        if not colon or not key or not secret:
            raise ValueError(
                "credentials must be KEY:SECRET, both non-empty (the value given is not shown)"
            )
        return cls(key, secret)

    def as_pair(self) -> tuple[str, str]:
        """(access key, secret key), as ``StackConfig.credentials`` holds them."""
        return self.access_key, self.secret_key


@dataclass(frozen=True)
class SignedRequest:
    """A request as received: ``target`` is the request line's path and query exactly as sent
    (percent-encoding kept), ``headers`` every (name, value) pair in order, ``body`` the bytes."""

    method: str
    target: str
    headers: Sequence[tuple[str, str]]
    body: bytes = b""

    def header_values(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    @property
    def query(self) -> list[tuple[str, str]]:
        """The query's (name, value) pairs, percent-decoded."""
        _, _, query = self.target.partition("?")
        return parse_qsl(query, keep_blank_values=True)


def signature_fields(request: SignedRequest) -> SignatureFields:
    """The request's SigV4 signature; raises ``MissingAuthenticationToken`` when it has none and
    ``IncompleteSignature`` when it is not SigV4's form."""
    authorization = request.header(AUTHORIZATION)
    query = dict(request.query)
    if authorization is not None:
        return _header_fields(authorization, request)
    if any(name in query for name in _QUERY_FIELDS):
        return _query_fields(query)
    raise MissingAuthenticationToken()


def _header_fields(authorization: str, request: SignedRequest) -> SignatureFields:
    """``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``.

    AWS does not document its messages; these are the ones its endpoints send, each missing part
    a sentence ("Authorization header requires 'Credential' parameter. ..."). AWS also appends
    the header's value (or, lately, its SHA-256): left out here."""
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.upper().startswith("AWS4-") and scheme != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{scheme}'")
    params: dict[str, str] = {}
    if scheme == ALGORITHM:  # another scheme (Bearer, Basic...) has no SigV4 parameter
        for part in filter(None, (piece.strip() for piece in rest.split(","))):
            key, equal, value = part.partition("=")
            if not equal:
                # AWS names the header by its hash, never by its value (observed; undocumented).
                hashed = base64.b64encode(sha256(authorization.encode()).digest()).decode()
                raise IncompleteSignature(
                    "Invalid key=value pair (missing equal-sign) in Authorization header "
                    f"(hashed with SHA-256 and encoded with Base64): '{hashed}'."
                )
            params[key.strip()] = value.strip()
    timestamp = _timestamp(request)
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not params.get(name)
    ]
    if timestamp is None:
        missing.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if missing:
        raise IncompleteSignature(" ".join(missing))
    assert timestamp is not None
    return _fields(params["Credential"], params["SignedHeaders"], params["Signature"], timestamp)


def _query_fields(query: dict[str, str]) -> SignatureFields:
    """A presigned URL's ``X-Amz-*`` parameters (the message is AWS's as its endpoints send it:
    undocumented)."""
    missing = [
        f"AWS query-string parameters must include '{name}'."
        for name in _QUERY_FIELDS
        if not query.get(name)
    ]
    if missing:
        raise IncompleteSignature(" ".join([*missing, "Re-examine the query-string parameters."]))
    algorithm = query[QUERY_ALGORITHM]
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}'")
    timestamp = _iso_basic(query[QUERY_DATE])
    expires = query.get(QUERY_EXPIRES)
    fields = _fields(
        query[QUERY_CREDENTIAL],
        query[QUERY_SIGNED_HEADERS],
        query[QUERY_SIGNATURE],
        timestamp,
        in_query=True,
    )
    if expires is None:
        return fields
    if not expires.isdigit():
        # AWS's message as its endpoints send it (undocumented).
        raise IncompleteSignature(f"X-Amz-Expires must be a number of seconds, got '{expires}'.")
    return dataclasses.replace(fields, expires=int(expires))


def _fields(
    credential: str, signed_headers: str, signature: str, timestamp: str, *, in_query: bool = False
) -> SignatureFields:
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignature(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{credential}'"
        )
    access_key, date, region, service, terminator = parts
    if terminator != TERMINATOR:
        raise IncompleteSignature(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{terminator}'."
        )
    if not (access_key and region and service) or not (len(date) == 8 and date.isdigit()):
        raise IncompleteSignature(
            f"Credential should be scoped to a valid date, region and service: '{credential}'."
        )
    names = tuple(name.strip().lower() for name in signed_headers.split(";"))
    if "host" not in names:
        # "The host header must be included as a signed header" (reference_sigv-create-signed-
        # request.html, the canonical request's SignedHeaders); AWS's message, as it sends it.
        raise IncompleteSignature(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    return SignatureFields(
        access_key=access_key,
        date=date,
        region=region,
        service=service,
        signed_headers=names,
        signature=signature,
        timestamp=timestamp,
        in_query=in_query,
    )


def _timestamp(request: SignedRequest) -> str | None:
    """The request's time as SigV4 signs it: ``X-Amz-Date``, else the ``Date`` header."""
    amz_date = request.header(AMZ_DATE)
    if amz_date is not None:
        return _iso_basic(amz_date)
    date = request.header("date")
    if date is None:
        return None
    try:
        return parsedate_to_datetime(date).strftime(SIGV4_TIMESTAMP)
    except (TypeError, ValueError):
        raise IncompleteSignature(
            f"Date must be in ISO-8601 'basic format'. Got '{date}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        ) from None


def _iso_basic(value: str) -> str:
    """``YYYYMMDDTHHMMSSZ`` or IncompleteSignature (AWS's message, as its endpoints send it)."""
    try:
        datetime.datetime.strptime(value, SIGV4_TIMESTAMP)
    except ValueError:
        raise IncompleteSignature(
            f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        ) from None
    return value


# -- verification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """The outcome of a request that passed: its signature, and whether its value was checked
    (False when the emulator has no credentials: any well-formed signature is accepted)."""

    fields: SignatureFields
    checked: bool


def check(
    request: SignedRequest,
    credentials: Credentials | None,
    service: str,
    *,
    now: datetime.datetime,
) -> Verified:
    """The whole check of one request to an API signed for ``service`` (``execute-api`` or
    ``lambda``): its signature's form always; its value and its time, against ``now`` (real
    wall-clock time, timezone-aware: clients sign with theirs, never the emulated clock), when
    ``credentials`` are given.

    Raises a ``SignatureRefusal`` (``MissingAuthenticationToken``, ``IncompleteSignature``,
    ``UnrecognizedClient``, ``InvalidSignature``)."""
    fields = signature_fields(request)
    if credentials is None:
        return Verified(fields, checked=False)
    verify(request, fields, credentials, service, now=now)
    return Verified(fields, checked=True)


def _stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime(SIGV4_TIMESTAMP)


def check_time(fields: SignatureFields, now: datetime.datetime) -> None:
    """Refuse a signature made too long before or after ``now`` (timezone-aware, real time):
    a request more than ``MAX_CLOCK_SKEW`` (5 min) from it either way, or a presigned URL whose
    ``X-Amz-Expires`` (capped at 7 days) has passed. Raises ``InvalidSignature`` with the
    message API Gateway and Lambda send ("Signature expired: 20240522T115159Z is now earlier
    than 20240522T120519Z (20240522T121019Z - 5 min.)"; observed, undocumented), the rule
    itself from https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_aws-signing.html."""
    signed = datetime.datetime.strptime(fields.timestamp, SIGV4_TIMESTAMP).replace(
        tzinfo=datetime.UTC
    )
    window = MAX_CLOCK_SKEW
    if fields.in_query and fields.expires is not None:
        window = min(datetime.timedelta(seconds=fields.expires), MAX_PRESIGNED_EXPIRY)
    minutes = f"{window.total_seconds() / 60:g} min."
    if signed < now - window:
        raise InvalidSignature(
            f"Signature expired: {fields.timestamp} is now earlier than "
            f"{_stamp(now - window)} ({_stamp(now)} - {minutes})"
        )
    if signed > now + MAX_CLOCK_SKEW:
        raise InvalidSignature(
            f"Signature not yet current: {fields.timestamp} is still later than "
            f"{_stamp(now + MAX_CLOCK_SKEW)} ({_stamp(now)} + 5 min.)"
        )


def verify(
    request: SignedRequest,
    fields: SignatureFields,
    credentials: Credentials,
    service: str,
    *,
    now: datetime.datetime,
) -> None:
    """Recompute the signature with botocore's ``SigV4Auth`` over the request as received (the
    method, the path and query as sent, the signed headers' values, the body's SHA-256 or the
    signed ``X-Amz-Content-Sha256``) for ``service`` and the scope's region, and compare in
    constant time. Raises ``UnrecognizedClient`` for another access key and
    ``InvalidSignature`` for another signature, a scope for another service, a body that is
    not the one the signed ``X-Amz-Content-Sha256`` names, or a time too far from ``now``
    (``check_time``, checked last: the order of AWS's checks is not documented)."""
    if not hmac.compare_digest(fields.access_key.encode(), credentials.access_key.encode()):
        raise UnrecognizedClient()
    if fields.service != service:
        # AWS's message when a credential is scoped to another service (undocumented; observed).
        raise InvalidSignature(f"Credential should be scoped to correct service: '{service}'. ")
    canonical, string_to_sign, signature = _expected(request, fields, credentials, service)
    if not hmac.compare_digest(signature.encode(), fields.signature.encode()):
        # API Gateway appends what it computed, so a client can compare (undocumented; observed).
        raise InvalidSignature(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.\n\n"
            f"The Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{string_to_sign}'\n"
        )
    declared = request.header(CONTENT_SHA256)
    if (
        CONTENT_SHA256 in fields.signed_headers
        and declared not in (None, UNSIGNED_PAYLOAD)
        and not hmac.compare_digest(str(declared), sha256(request.body).hexdigest())
    ):
        raise InvalidSignature(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    check_time(fields, now)


def _expected(
    request: SignedRequest, fields: SignatureFields, credentials: Credentials, service: str
) -> tuple[str, str, str]:
    """(canonical request, string to sign, signature) botocore computes for this request."""
    host = request.header("host") or ""
    path, question, query = request.target.partition("?")
    if fields.in_query:
        # "The canonical query string must include all the query parameters ... except for
        # X-Amz-Signature" (reference_sigv-query-string-auth.html).
        query = "&".join(
            pair for pair in query.split("&") if pair.split("=", 1)[0] != QUERY_SIGNATURE
        )
    # The scheme only decides whether botocore hashes the payload, which it does on both unless
    # told otherwise: http:// stands for both.
    url = f"http://{host}{path}" + (f"?{query}" if question and query else "")
    signed = set(fields.signed_headers)
    headers = [(name, value) for name, value in request.headers if name.lower() in signed]
    aws_request = AWSRequest(method=request.method, url=url, data=request.body)
    for name, value in headers:
        aws_request.headers[name] = value  # HTTPHeaders: a repeated name keeps every value
    aws_request.context["timestamp"] = fields.timestamp
    signer = _ReceivedSignature(
        BotocoreCredentials(credentials.access_key, credentials.secret_key),
        service,
        fields.region,
    )
    canonical = signer.canonical_request(aws_request)
    string_to_sign = signer.string_to_sign(aws_request, canonical)
    return canonical, string_to_sign, signer.signature(string_to_sign, aws_request)


class _ReceivedSignature(SigV4Auth):
    """botocore's SigV4 signer over exactly the headers the client listed in SignedHeaders:
    botocore leaves some headers out of the signatures it makes (``User-Agent``, ``Expect``...),
    but another client may have signed them, and its list is the one that counts here."""

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name, value in request.headers.items():
            headers[name.lower()] = value  # HTTPHeaders keeps every value of a repeated name
        return headers
