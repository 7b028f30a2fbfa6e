"""HTTP responses as data, and the exact error responses API Gateway sends.

Bodies, status codes and ``x-amzn-ErrorType`` headers follow what AWS returns, so client code that
handles AWS errors handles these the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

JSON = "application/json"
#: API Gateway's REST payload quota: 10 MB, checked before anything else.
REST_PAYLOAD_LIMIT = 10 * 1024 * 1024
#: Lambda's synchronous invocation payload quota (the event as JSON).
LAMBDA_SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


class GatewayError(Exception):
    """A request step's verdict that ends the request with API Gateway's own answer.

    ``response`` is the whole HTTP answer (status, headers, body); the gateway sends it as is and
    invokes nothing further. Raised by the REST gateway's steps (route match, API key, ...), as
    LocalStack's next-gen API Gateway raises its typed gateway exceptions."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(f"{response.status} {response.body[:200]!r}")
        self.response = response


def gateway_json(body: object) -> bytes:
    """A gateway response's JSON body as API Gateway renders it, without spaces: the default
    gateway response template is ``{"message":$context.error.messageString}``
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/
    api-gateway-gatewayResponse-definition.html)."""
    return json.dumps(body, separators=(",", ":")).encode()


def _gateway_error(status: int, message: str, error_type: str | None = None) -> HttpResponse:
    headers = [("Content-Type", JSON)]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return HttpResponse(status, headers, gateway_json({"message": message}))


def missing_authentication_token() -> HttpResponse:
    """An unknown resource or method (gateway response MISSING_AUTHENTICATION_TOKEN); also the
    answer of the signed APIs (@connections, Lambda Invoke) to a request without a signature
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html:
    "If the API request isn't signed, then you might receive the error: Missing Authentication
    Token")."""
    return _gateway_error(
        403, "Missing Authentication Token", "MissingAuthenticationTokenException"
    )


# -- SigV4 refusals of the signed APIs (@connections, Lambda Invoke): 403, the AWS error type in
# x-amzn-ErrorType, {"message": ...}. Lambda's common errors list IncompleteSignature and
# UnrecognizedClientException as 403 (https://docs.aws.amazon.com/lambda/latest/api/
# CommonErrors.html); "Missing Authentication Token" for an unsigned request and "The request
# signature we calculated does not match the signature you provided" for a wrong one are in
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html.


def _signature_refusal(error_type: str, message: str) -> HttpResponse:
    return _gateway_error(403, message, error_type)


def incomplete_signature(message: str) -> HttpResponse:
    """IncompleteSignatureException: the request's signature does not have SigV4's form (a field
    of the Authorization header or of the presigned query missing, a malformed credential scope
    or date); ``message`` says which, as AWS's endpoints do."""
    return _signature_refusal("IncompleteSignatureException", message)


def invalid_signature(message: str) -> HttpResponse:
    """InvalidSignatureException: a well-formed signature that is not the one the secret key gives
    for this request ("The request signature we calculated does not match ...")."""
    return _signature_refusal("InvalidSignatureException", message)


def unrecognized_client() -> HttpResponse:
    """UnrecognizedClientException: signed with an access key the service does not know. The
    message is AWS's as its endpoints send it ("The security token included in the request is
    invalid."); the documented meaning: the access key ID "does not exist in our records"."""
    return _signature_refusal(
        "UnrecognizedClientException", "The security token included in the request is invalid."
    )


def forbidden() -> HttpResponse:
    """A path outside any deployed stage."""
    return _gateway_error(403, "Forbidden", "ForbiddenException")


def invalid_api_key() -> HttpResponse:
    """Gateway response INVALID_API_KEY: a method that requires an API key was called without
    one, or with a key that is unknown, disabled or in no usage plan of the stage. 403, the body
    ``{"message":"Forbidden"}``
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html)."""
    return _gateway_error(403, "Forbidden", "ForbiddenException")


def integration_timeout() -> HttpResponse:
    """Gateway response INTEGRATION_TIMEOUT: the integration did not answer within its timeout."""
    return _gateway_error(504, "Endpoint request timed out")


def internal_server_error() -> HttpResponse:
    """A Lambda that raised, timed out on its own, or returned a malformed proxy response."""
    return _gateway_error(502, "Internal server error", "InternalServerErrorException")


def request_too_long() -> HttpResponse:
    """The request fits API Gateway but its event is over Lambda's 6 MB invocation payload."""
    return _gateway_error(413, "Request Too Long", "BadRequestException")


def lambda_throttled() -> HttpResponse:
    """Lambda refused the invocation for lack of concurrency: a proxy integration cannot pass
    Lambda's 429 on, so the client sees a 500."""
    return _gateway_error(500, "Internal server error", "InternalServerErrorException")


def content_length_exceeded(limit: int = REST_PAYLOAD_LIMIT) -> HttpResponse:
    """The front door's answer to a body over the 10 MB quota: plain text, as AWS sends it."""
    body = f"HTTP content length exceeded {limit} bytes.".encode()
    return HttpResponse(413, [("Content-Type", "text; charset=utf-8")], body)


def malformed_request(detail: str, status: int = 400) -> HttpResponse:
    """A request that is not HTTP/1.1 as RFC 9112 defines it (a bad request line, header or
    framing), answered before any API sees it: ``status`` (400, or the parser's hint such as 431
    for headers too large) with ``{"message": detail}`` and the connection closed. AWS's front
    door does not document its body for these; the status is RFC 9110's
    (https://www.rfc-editor.org/rfc/rfc9110#section-15.5.1)."""
    headers = [("Content-Type", JSON), ("Connection", "close")]
    return HttpResponse(status, headers, json.dumps({"message": detail}).encode())


def request_timeout() -> HttpResponse:
    """A request body that stopped arriving for the header timeout: 408, "the server did not
    receive a complete request message within the time that it was prepared to wait"
    (https://www.rfc-editor.org/rfc/rfc9110#section-15.5.9), and the connection closed. AWS does
    not document an answer of its own for this."""
    headers = [("Content-Type", JSON), ("Connection", "close")]
    return HttpResponse(408, headers, json.dumps({"message": "Request Timeout"}).encode())


def json_response(status: int, payload: object) -> HttpResponse:
    """A JSON answer from the emulator's own control API."""
    return HttpResponse(status, [("Content-Type", JSON)], json.dumps(payload, indent=2).encode())


# -- Lambda authorizer answers (https://docs.aws.amazon.com/apigateway/latest/developerguide/
# supported-gateway-response-types.html: UNAUTHORIZED 401, ACCESS_DENIED 403,
# AUTHORIZER_CONFIGURATION_ERROR and AUTHORIZER_FAILURE 500). AWS documents the status codes; the
# bodies are AWS's default gateway-response bodies as observed and shown in the AWS
# knowledge-center articles api-gateway-401-error-lambda-authorizer and
# api-gateway-403-error-lambda-authorizer.


def unauthorized() -> HttpResponse:
    """Gateway response UNAUTHORIZED: an identity source missing or empty, a token failing the
    identityValidationExpression, or the authorizer function failing with "Unauthorized"."""
    return _gateway_error(401, "Unauthorized", "UnauthorizedException")


def access_denied(*, explicit: bool) -> HttpResponse:
    """Gateway response ACCESS_DENIED: the authorizer's policy denies the method, by an explicit
    Deny or for want of a matching Allow. AWS spells the key ``Message`` here, unlike its other
    gateway responses (observed; the knowledge-center article prints it in lower case)."""
    message = "User is not authorized to access this resource"
    if explicit:
        message += " with an explicit deny"
    body = gateway_json({"Message": message})
    headers = [("Content-Type", JSON), ("x-amzn-ErrorType", "AccessDeniedException")]
    return HttpResponse(403, headers, body)


def authorizer_configuration_error() -> HttpResponse:
    """Gateway response AUTHORIZER_CONFIGURATION_ERROR: the authorizer function failed with
    another error, timed out, was throttled or returned a malformed result. The body is
    ``{"message": null}`` as AWS sends it (observed; not documented)."""
    headers = [("Content-Type", JSON), ("x-amzn-ErrorType", "AuthorizerConfigurationException")]
    return HttpResponse(500, headers, gateway_json({"message": None}))


# -- HTTP APIs (API Gateway v2) ----------------------------------------------------------------
# HTTP APIs answer their own errors with a capitalised message and no x-amzn-ErrorType header.
#: The header that carries the request id on every HTTP API response, errors included (the same id
#: as the event's ``requestContext.requestId``). AWS's guides do not document this header; every
#: HTTP API response carries it, and ``$context.requestId`` (the access-log variable,
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html)
#: is its value.
HTTP_API_REQUEST_ID_HEADER = "apigw-requestid"
#: HTTP APIs' payload quota: 10 MB
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html).
HTTP_API_PAYLOAD_LIMIT = 10 * 1024 * 1024


def http_api_not_found() -> HttpResponse:
    """No route (and no ``$default`` route) matches: "If no routes match a request, API Gateway
    returns {"message":"Not Found"} to the client."
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html)"""
    return _gateway_error(404, "Not Found")


def http_api_internal_server_error() -> HttpResponse:
    """The Lambda raised, timed out on its own, crashed, or returned a response API Gateway cannot
    map; Lambda throttled the invocation (a proxy integration cannot pass Lambda's 429 on,
    https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html). HTTP APIs
    answer 500 {"message":"Internal Server Error"}
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html)."""
    return _gateway_error(500, "Internal Server Error")


def http_api_service_unavailable() -> HttpResponse:
    """The integration did not answer within its timeout (30 s at most, https://docs.aws.amazon.com/
    apigateway/latest/developerguide/http-api-quotas.html). AWS's guides state the limit but not
    the answer; HTTP APIs send 503 {"message":"Service Unavailable"} (where REST sends 504)."""
    return _gateway_error(503, "Service Unavailable")


def http_api_payload_too_large() -> HttpResponse:
    """A request body over the 10 MB payload quota. The quota is documented
    (http-api-quotas.html); the answer's body is not: here AWS's 413 status with the HTTP API's
    JSON error shape."""
    return _gateway_error(413, "Request Entity Too Large")


# -- The control plane /_emulator/ and the WebSocket Origin option ------------------------------
# The emulator's own answers, not AWS's: the control plane exists only here, and API Gateway
# checks no Origin on a WebSocket handshake. Their shape is AWS's gateway-error shape,
# {"message": ...}, so clients handle them alike (emulator.core.control_access says the rules).
CROSS_ORIGIN_MESSAGE = "cross-origin request refused"


def cross_origin_refused() -> HttpResponse:
    """403: a mutating control request (or, with ``--ws-check-origin``, a WebSocket handshake)
    whose ``Origin`` is neither one of the emulator's own nor an ``--allowed-origin``."""
    return _gateway_error(403, CROSS_ORIGIN_MESSAGE)


def host_refused(host: str) -> HttpResponse:
    """403: a control request whose ``Host`` is not a name the emulator answers to (an IP
    literal, ``localhost``, ``--host``, ``--callback-host`` or an ``--allowed-host``): the
    defence against DNS rebinding. The message names the host and the option that allows it."""
    message = (
        f"host {host!r} is not one this emulator answers to; call it by an IP address or "
        "localhost, or start it with --allowed-host NAME"
    )
    return _gateway_error(403, message)


def control_unauthorized() -> HttpResponse:
    """401 with ``WWW-Authenticate: Bearer`` (RFC 6750 3): ``--control-token`` is set and the
    request has no ``Authorization: Bearer TOKEN`` with it."""
    response = _gateway_error(401, "this emulator's control API needs Authorization: Bearer TOKEN")
    return HttpResponse(401, [*response.headers, ("WWW-Authenticate", "Bearer")], response.body)


def unsupported_media_type(content_type: str | None) -> HttpResponse:
    """415: a mutating control request whose body is not ``application/json``."""
    sent = content_type or "none"
    message = f"the body must be application/json (Content-Type: {sent}); or send no body"
    return _gateway_error(415, message)


def is_integration_timeout(api: str, status: int, body: bytes | str) -> bool:
    """Whether an answer is the gateway's own integration-timeout answer, as a client sees it.

    ``api``: ``"rest"`` (REST and, for a route's reply message, WebSocket APIs: 504
    ``{"message": "Endpoint request timed out"}``, gateway response INTEGRATION_TIMEOUT,
    https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html)
    or ``"http_api"`` (503 ``{"message":"Service Unavailable"}``, see
    ``http_api_service_unavailable``); ``"websocket"`` checks a route's reply message only
    (``status`` ignored). A handler's own 504 or 503 with another body is not one.
    """
    expected = {
        "rest": integration_timeout(),
        "websocket": integration_timeout(),
        "http_api": http_api_service_unavailable(),
    }.get(api)
    if expected is None or (api != "websocket" and status != expected.status):
        return False
    try:
        message = json.loads(body)
    except ValueError:
        return False
    return (
        isinstance(message, dict) and message.get("message") == json.loads(expected.body)["message"]
    )
