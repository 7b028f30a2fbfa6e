import pytest

from emulator.core.cors import DEFAULT_HEADERS, CorsError, event_rule, merge, preflight


def headers_of(response) -> dict[str, str]:
    return dict(response.headers)


def test_cors_true_answers_with_serverless_defaults():
    response = preflight(event_rule(True, "get"), "https://x.example")
    assert (response.status, response.body) == (200, b"")
    headers = headers_of(response)
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Headers"] == ",".join(DEFAULT_HEADERS)
    assert headers["Access-Control-Allow-Methods"] == "OPTIONS,GET"
    assert "Access-Control-Allow-Credentials" not in headers
    assert "Access-Control-Max-Age" not in headers


def test_the_object_form_sets_credentials_max_age_and_cache_control():
    rule = event_rule(
        {
            "origin": "https://app.example",
            "headers": "X-Custom",
            "allowCredentials": True,
            "maxAge": 600,
            "cacheControl": "max-age=600",
        },
        "post",
    )
    headers = headers_of(preflight(rule, None))
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert headers["Access-Control-Allow-Headers"] == "X-Custom"
    assert headers["Access-Control-Allow-Methods"] == "OPTIONS,POST"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Access-Control-Max-Age"] == "600"
    assert headers["Cache-Control"] == "max-age=600"


def test_a_matching_origin_of_a_list_is_echoed_else_the_first_is_sent():
    rule = event_rule({"origins": ["https://a.example", "https://*.b.example"]}, "get")
    assert headers_of(preflight(rule, "https://x.b.example"))["Access-Control-Allow-Origin"] == (
        "https://x.b.example"
    )
    for origin in ("https://evil.example", "https://b.example", None):
        answer = headers_of(preflight(rule, origin))
        assert answer["Access-Control-Allow-Origin"] == "https://a.example"


def test_a_comma_separated_origin_is_a_list():
    rule = event_rule({"origin": "https://a.example, https://c.example"}, "get")
    assert headers_of(preflight(rule, "https://c.example"))["Access-Control-Allow-Origin"] == (
        "https://c.example"
    )


def test_any_is_spelled_out_and_a_path_merges_its_events():
    merged = merge(event_rule(True, "any"), event_rule({"methods": ["patch"]}, "patch"))
    headers = headers_of(preflight(merged, None))
    assert headers["Access-Control-Allow-Methods"] == (
        "PATCH,OPTIONS,DELETE,GET,HEAD,PATCH,POST,PUT"
    )


def test_unknown_settings_are_refused():
    with pytest.raises(CorsError, match=r"cors\.credentials is not a cors setting"):
        event_rule({"credentials": True}, "get")
