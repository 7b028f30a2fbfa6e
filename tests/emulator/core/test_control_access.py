"""The control plane's access decision (emulator.core.control_access), with no server."""

import json

import pytest

from emulator.core.control_access import ControlAccess, ControlRequest, bearer_headers
from emulator.core.origins import HostPolicy, OriginPolicy

ACCESS = ControlAccess(
    HostPolicy.of("emulator"), OriginPolicy.of(host_names=(), ports=(3000,)), token=None
)
TOKEN = ControlAccess(ACCESS.hosts, ACCESS.origins, token="s3cret")


def answer(access: ControlAccess, **request) -> tuple[int, str] | None:
    request.setdefault("method", "GET")
    request.setdefault("path", "/_emulator/config")
    refusal = access.refusal(ControlRequest(**request))
    if refusal is None:
        return None
    return refusal.status, json.loads(refusal.body)["message"]


def test_the_cross_site_simple_post_is_refused_before_anything_else():
    attack = {"origin": "https://evil.example", "content_type": "text/plain", "has_body": True}
    assert answer(ACCESS, method="POST", **attack) == (403, "cross-origin request refused")
    assert answer(TOKEN, method="POST", **attack) == (403, "cross-origin request refused")


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_are_not_origin_checked(method):
    assert answer(ACCESS, method=method, origin="https://evil.example") is None


def test_a_foreign_host_is_refused_even_for_reads():
    status, message = answer(ACCESS, host="evil.example:3000")
    assert status == 403
    assert "'evil.example'" in message


@pytest.mark.parametrize(
    ("content_type", "has_body", "refused"),
    [
        ("application/json", True, False),
        ("application/json; charset=utf-8", True, False),
        (None, False, False),  # a bodyless POST /_emulator/reset
        ("text/plain", False, False),  # no body: nothing to misread
        ("text/plain", True, True),
        ("application/x-www-form-urlencoded", True, True),
        ("multipart/form-data; boundary=x", True, True),
        ("application/jsonp", True, True),
        (None, True, True),
    ],
)
def test_mutating_bodies_must_be_json(content_type, has_body, refused):
    result = answer(ACCESS, method="PUT", content_type=content_type, has_body=has_body)
    assert (result is not None and result[0] == 415) is refused


def test_the_token_is_needed_everywhere_but_health_and_the_ui():
    refusal = TOKEN.refusal(ControlRequest("GET", "/_emulator/metrics"))
    assert refusal is not None
    assert refusal.status == 401
    assert refusal.header("WWW-Authenticate") == "Bearer"
    assert answer(TOKEN, path="/_emulator/metrics", authorization="Bearer s3cret") is None
    assert answer(TOKEN, path="/_emulator/metrics", authorization="Bearer s3cre")[0] == 401
    assert answer(TOKEN, path="/_emulator/metrics", authorization="s3cret")[0] == 401
    assert answer(TOKEN, path="/_emulator/health") is None
    assert answer(TOKEN, method="HEAD", path="/_emulator/health") is None
    assert answer(TOKEN, method="POST", path="/_emulator/health")[0] == 401
    assert answer(TOKEN, path="/_emulator/ui/") is None
    assert answer(TOKEN, path="/_emulator/ui/app.js") is None
    assert answer(TOKEN, path="/_emulator/ui") is None
    assert answer(TOKEN, path="/_emulator/uix")[0] == 401


def test_bearer_headers_come_from_the_environment():
    assert bearer_headers({"TIMEOUTLAB_CONTROL_TOKEN": "t"}) == {"Authorization": "Bearer t"}
    assert bearer_headers({}) == {}
