"""SigV4's rules without a socket: the signature's form, and its value recomputed with botocore
over requests signed by botocore itself (headers and presigned URLs)."""

import datetime
import json
from unittest import mock
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from emulator.core import sigv4
from emulator.core.sigv4 import Credentials, SignedRequest

KEY = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
URL = "http://127.0.0.1:3001/dev/%40connections/AbCd%3D"


def now() -> datetime.datetime:
    """Real wall time, as the gateways pass it (botocore signs with it too)."""
    return datetime.datetime.now(datetime.UTC)


def signed(
    method: str = "POST",
    url: str = URL,
    body: bytes = b'{"url": "x"}',
    *,
    credentials: Credentials = KEY,
    service: str = "execute-api",
    region: str = "us-east-1",
    query_auth: bool = False,
    headers: dict | None = None,
) -> SignedRequest:
    """A request as botocore signs it, then as the emulator receives it (Host added, as the
    HTTP client sends it)."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    botocore_credentials = BotocoreCredentials(credentials.access_key, credentials.secret_key)
    signer = (
        SigV4QueryAuth(botocore_credentials, service, region, expires=60)
        if query_auth
        else SigV4Auth(botocore_credentials, service, region)
    )
    signer.add_auth(request)
    parts = urlsplit(request.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    received = [("Host", parts.netloc), *request.headers.items()]
    return SignedRequest(method, target, received, body)


def refusal(request: SignedRequest, credentials=None, service="execute-api"):
    with pytest.raises(sigv4.SignatureRefusal) as refused:
        sigv4.check(request, credentials, service, now=now())
    response = refused.value.response
    assert response.status == 403
    assert response.header("x-amzn-ErrorType") == refused.value.error_type
    return refused.value.error_type, json.loads(response.body)["message"]


def test_no_signature_is_missing_authentication_token():
    request = SignedRequest("POST", "/dev/@connections/abc", [("Host", "h")], b"hi")
    assert refusal(request) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )


@pytest.mark.parametrize(
    ("authorization", "says"),
    [
        ("Bearer token", "Authorization header requires 'Credential' parameter."),
        ("AWS4-HMAC-SHA256 Credential=a/20240101/us-east-1/lambda/aws4_request", "'Signature'"),
        ("AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=ab", "exactly 5"),
        (
            "AWS4-HMAC-SHA256 Credential=a/20240101/us-east-1/s/oops, SignedHeaders=host, "
            "Signature=ab",
            "valid terminator",
        ),
        ("AWS4-HMAC-SHA512 Credential=x", "Unsupported AWS 'algorithm'"),
        ("AWS4-HMAC-SHA256 garbage", "missing equal-sign"),
        ("AWS4-HMAC-SHA256", "Authorization header requires 'Credential' parameter."),
    ],
)
def test_a_malformed_authorization_header_is_incomplete_signature(authorization, says):
    headers = [("Host", "h"), ("Authorization", authorization), ("X-Amz-Date", "20240101T000000Z")]
    error_type, message = refusal(SignedRequest("GET", "/", headers))
    assert error_type == "IncompleteSignatureException"
    assert says in message
    assert "garbage" not in message  # AWS names a malformed header by its hash


def test_a_signature_without_a_date_is_incomplete():
    request = signed()
    without_date = [(k, v) for k, v in request.headers if k.lower() != "x-amz-date"]
    error_type, message = refusal(SignedRequest("POST", request.target, without_date, b""))
    assert error_type == "IncompleteSignatureException"
    assert "requires existence of either a 'X-Amz-Date' or a 'Date' header" in message


def test_any_well_formed_signature_passes_without_credentials():
    other = Credentials("anything", "goes")
    verified = sigv4.check(signed(credentials=other), None, "execute-api", now=now())
    assert (verified.fields.access_key, verified.checked) == ("anything", False)
    assert (verified.fields.region, verified.fields.service) == ("us-east-1", "execute-api")


def test_a_botocore_signature_verifies_with_the_same_credentials():
    verified = sigv4.check(signed(), KEY, "execute-api", now=now())
    assert verified.checked
    assert "host" in verified.fields.signed_headers


def test_the_signature_covers_body_path_and_host():
    request = signed()
    for changed in (
        SignedRequest("POST", request.target, request.headers, b'{"url": "y"}'),
        SignedRequest("POST", request.target.replace("AbCd", "Ab"), request.headers, request.body),
        SignedRequest(
            "POST",
            request.target,
            [("Host", "127.0.0.1:9999") if k == "Host" else (k, v) for k, v in request.headers],
            request.body,
        ),
    ):
        error_type, message = refusal(changed, KEY)
        assert error_type == "InvalidSignatureException"
        assert message.startswith("The request signature we calculated does not match")


def test_a_wrong_secret_is_invalid_signature_and_another_key_unrecognized():
    wrong_secret = signed(credentials=Credentials(KEY.access_key, "nope"))
    assert refusal(wrong_secret, KEY)[0] == "InvalidSignatureException"
    assert refusal(signed(credentials=Credentials("OTHER", KEY.secret_key)), KEY) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


def test_a_signature_for_another_service_is_refused():
    error_type, message = refusal(signed(service="lambda"), KEY, "execute-api")
    assert error_type == "InvalidSignatureException"
    assert "correct service: 'execute-api'" in message


def test_the_region_is_the_scopes():
    assert (
        sigv4.check(signed(region="eu-west-3"), KEY, "execute-api", now=now()).fields.region
        == "eu-west-3"
    )


def test_host_must_be_signed():
    request = signed()
    unsigned_host = [
        (k, v.replace("SignedHeaders=host;", "SignedHeaders=")) if k == "Authorization" else (k, v)
        for k, v in request.headers
    ]
    error_type, message = refusal(SignedRequest("POST", request.target, unsigned_host))
    assert error_type == "IncompleteSignatureException"
    assert "'Host' or ':authority' must be a 'SignedHeader'" in message


def test_headers_botocore_would_not_sign_count_when_the_client_signed_them():
    """A signer other than botocore may sign User-Agent: the client's list is what counts."""
    request = AWSRequest(method="GET", url=URL, headers={"User-Agent": "curl/8"})
    request.context["timestamp"] = "20240101T000000Z"
    request.headers["X-Amz-Date"] = "20240101T000000Z"
    signer = sigv4._ReceivedSignature(
        BotocoreCredentials(KEY.access_key, KEY.secret_key), "execute-api", "us-east-1"
    )
    request.headers["Host"] = "127.0.0.1:3001"
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    assert "user-agent:curl/8" in canonical
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={KEY.access_key}/20240101/us-east-1/execute-api/"
        f"aws4_request, SignedHeaders=host;user-agent;x-amz-date, Signature={signature}"
    )
    received = [*request.headers.items(), ("Authorization", authorization)]
    target = urlsplit(URL).path
    at = datetime.datetime(2024, 1, 1, 0, 1, tzinfo=datetime.UTC)  # a minute after signing
    assert sigv4.check(SignedRequest("GET", target, received), KEY, "execute-api", now=at).checked
    changed = [(k, "curl/9" if k == "User-Agent" else v) for k, v in received]
    assert refusal(SignedRequest("GET", target, changed), KEY)[0] == "InvalidSignatureException"


def test_presigned_url_signatures_parse_and_verify():
    request = signed("GET", URL, b"", query_auth=True)
    assert "X-Amz-Signature=" in request.target
    verified = sigv4.check(request, KEY, "execute-api", now=now())
    assert verified.fields.in_query
    assert verified.checked
    tampered = SignedRequest("GET", request.target.replace("AbCd", "Zz"), request.headers)
    assert refusal(tampered, KEY)[0] == "InvalidSignatureException"


def test_incomplete_presigned_query_is_incomplete_signature():
    request = SignedRequest("GET", "/dev/@connections/a?X-Amz-Signature=ab", [("Host", "h")])
    error_type, message = refusal(request)
    assert error_type == "IncompleteSignatureException"
    assert "must include 'X-Amz-Credential'" in message


def test_a_signed_content_sha256_must_be_the_bodys():
    headers = {"X-Amz-Content-SHA256": "0" * 64}
    request = signed(headers=headers)
    error_type, message = refusal(request, KEY)
    assert error_type == "InvalidSignatureException"
    assert "x-amz-content-sha256" in message


def test_credentials_parse_key_colon_secret():
    assert Credentials.parse("KEY:se:cret") == Credentials("KEY", "se:cret")
    for text in ("KEY", ":secret", "KEY:"):
        with pytest.raises(ValueError, match="KEY:SECRET"):
            Credentials.parse(text)


# -- the request's time (real wall time, given: no clock in the core) ------------------------------

SIGNED_AT = datetime.datetime(2026, 11, 30, 22, 0, 0, tzinfo=datetime.UTC)


def signed_at(moment: datetime.datetime, **kwargs) -> SignedRequest:
    """A request botocore signed at ``moment`` (its clock patched, as the tester's script did)."""
    naive = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=naive):
        return signed(**kwargs)


def time_refusal(request: SignedRequest, at: datetime.datetime) -> str:
    with pytest.raises(sigv4.InvalidSignature) as refused:
        sigv4.check(request, KEY, "execute-api", now=at)
    assert refused.value.response.status == 403
    return refused.value.message


def test_a_signature_within_five_minutes_either_way_passes():
    request = signed_at(SIGNED_AT)
    for skew in (-299, 0, 299):
        at = SIGNED_AT + datetime.timedelta(seconds=skew)
        assert sigv4.check(request, KEY, "execute-api", now=at).checked


def test_an_old_signature_is_expired_with_awss_message():
    request = signed_at(SIGNED_AT)
    at = SIGNED_AT + datetime.timedelta(hours=2)
    assert time_refusal(request, at) == (
        "Signature expired: 20261130T220000Z is now earlier than 20261130T235500Z "
        "(20261201T000000Z - 5 min.)"
    )
    assert time_refusal(request, SIGNED_AT + datetime.timedelta(days=400)).startswith(
        "Signature expired: 20261130T220000Z"
    )


def test_a_signature_from_the_future_is_not_yet_current():
    request = signed_at(SIGNED_AT + datetime.timedelta(minutes=6))
    assert time_refusal(request, SIGNED_AT) == (
        "Signature not yet current: 20261130T220600Z is still later than 20261130T220500Z "
        "(20261130T220000Z + 5 min.)"
    )


def test_without_credentials_the_time_is_not_checked():
    old = signed_at(SIGNED_AT)
    at = SIGNED_AT + datetime.timedelta(days=400)
    assert not sigv4.check(old, None, "execute-api", now=at).checked


def test_a_presigned_url_lasts_its_expiry():
    request = signed_at(SIGNED_AT, method="GET", body=b"", query_auth=True)  # expires=60
    assert sigv4.check(request, KEY, "execute-api", now=SIGNED_AT + datetime.timedelta(seconds=59))
    message = time_refusal(request, SIGNED_AT + datetime.timedelta(seconds=61))
    assert message.startswith("Signature expired: 20261130T220000Z is now earlier than")
    assert message.endswith("- 1 min.)")
