"""Lambda authorizer rules: identity sources, output validation, policy evaluation, cache."""

import json

import pytest

from emulator.core.authorizers import (
    AccessDenied,
    AuthorizerCache,
    AuthorizerFailure,
    AuthorizerSpec,
    AuthorizerType,
    IdentityLocation,
    IdentitySource,
    InvalidAuthorizer,
    Unauthorized,
    evaluate,
    identity,
    method_arn,
    parse_identity_sources,
    parse_output,
    request_context_authorizer,
)
from emulator.core.events import ApiIdentity

API = ApiIdentity("abc123defg", "dev", "localhost")
ARN = "arn:aws:execute-api:us-east-1:000000000000:abc123defg/dev/GET/items/12"


def policy(*statements, **extra):
    return {
        "principalId": "ann",
        "policyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
        **extra,
    }


def allow(resource=ARN, effect="Allow", action="execute-api:Invoke"):
    return {"Effect": effect, "Action": action, "Resource": resource}


def test_method_arns_name_the_requested_path_or_connect():
    assert method_arn(API, "us-east-1", "GET", "/items/12") == ARN
    assert method_arn(API, "eu-west-1", "$connect", "").endswith("abc123defg/dev/$connect")


def test_identity_sources_parse_per_api_type():
    assert parse_identity_sources(
        "method.request.header.Auth, method.request.querystring.q", "rest"
    ) == (
        IdentitySource(IdentityLocation.HEADER, "Auth"),
        IdentitySource(IdentityLocation.QUERYSTRING, "q"),
    )
    assert parse_identity_sources(["route.request.querystring.token"], "websocket") == (
        IdentitySource(IdentityLocation.QUERYSTRING, "token"),
    )
    with pytest.raises(InvalidAuthorizer, match="not modelled"):
        parse_identity_sources("route.request.header.Auth", "rest")
    with pytest.raises(InvalidAuthorizer, match="not modelled"):
        parse_identity_sources("stageVariables.key", "rest")


def test_a_missing_or_empty_identity_source_is_401_and_headers_ignore_case():
    spec = AuthorizerSpec(name="auth", function="auth")
    assert identity(spec, [("authorization", "tok")], []) == ("tok",)
    with pytest.raises(Unauthorized):
        identity(spec, [], [])
    with pytest.raises(Unauthorized):
        identity(spec, [("Authorization", "")], [])
    request = AuthorizerSpec(
        name="r",
        function="r",
        type=AuthorizerType.REQUEST,
        identity_sources=parse_identity_sources("method.request.querystring.q", "rest"),
    )
    assert identity(request, [], [("q", "1")]) == ("1",)
    with pytest.raises(Unauthorized):
        identity(request, [], [("Q", "1")])  # query string names are case-sensitive


def test_a_token_not_matching_the_validation_expression_is_401():
    spec = AuthorizerSpec(name="a", function="a", validation_expression=r"Bearer [a-z]+")
    assert identity(spec, [("Authorization", "Bearer abc")], []) == ("Bearer abc",)
    with pytest.raises(Unauthorized):
        identity(spec, [("Authorization", "Bearer abc!")], [])  # the whole token must match


def test_specs_refuse_what_aws_refuses():
    with pytest.raises(InvalidAuthorizer, match=r"0\.\.3600"):
        AuthorizerSpec(name="a", function="a", result_ttl=3601)
    with pytest.raises(InvalidAuthorizer, match="TOKEN"):
        AuthorizerSpec(
            name="a",
            function="a",
            identity_sources=parse_identity_sources("method.request.querystring.t", "rest"),
        )
    with pytest.raises(InvalidAuthorizer, match="needs identitySource"):
        AuthorizerSpec(name="a", function="a", type=AuthorizerType.REQUEST, identity_sources=())
    with pytest.raises(InvalidAuthorizer, match="regular expression"):
        AuthorizerSpec(name="a", function="a", validation_expression="(")


def test_an_explicit_deny_wins_over_an_allow():
    output = parse_output(policy(allow("*"), allow(ARN, effect="Deny")))
    with pytest.raises(AccessDenied) as denied:
        evaluate(output, ARN)
    assert denied.value.explicit is True
    assert denied.value.response.status == 403
    assert json.loads(denied.value.response.body) == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }


def test_no_matching_allow_is_an_implicit_deny():
    output = parse_output(policy(allow(ARN.replace("/12", "/13"))))
    with pytest.raises(AccessDenied) as denied:
        evaluate(output, ARN)
    assert denied.value.explicit is False
    assert json.loads(denied.value.response.body) == {
        "Message": "User is not authorized to access this resource"
    }
    assert denied.value.response.header("x-amzn-ErrorType") == "AccessDeniedException"


@pytest.mark.parametrize(
    ("resource", "action"),
    [
        (ARN, "execute-api:Invoke"),
        ("arn:aws:execute-api:us-east-1:000000000000:abc123defg/dev/*", "execute-api:*"),
        (
            "arn:aws:execute-api:*:*:abc123defg/*/GET/items/*",
            ["s3:GetObject", "execute-api:invoke"],
        ),
        (["arn:aws:s3:::bucket", "*"], "*"),
        (
            "arn:aws:execute-api:us-east-1:000000000000:abc123defg/dev/GET/items/1?",
            "execute-api:Invoke",
        ),
    ],
)
def test_allow_statements_match_with_iam_wildcards(resource, action):
    evaluate(parse_output(policy(allow(resource, action=action))), ARN)


def test_statements_for_other_actions_or_cases_do_not_allow():
    for statement in (allow(action="s3:*"), allow(ARN.replace("GET", "get"))):
        with pytest.raises(AccessDenied):
            evaluate(parse_output(policy(statement)), ARN)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "Allow",
        {"policyDocument": {"Statement": []}},  # no principalId
        {"principalId": "ann"},  # no policy
        policy({"Effect": "Maybe", "Action": "*", "Resource": "*"}),
        policy({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}),
        policy(allow(), context={"nested": {"a": 1}}),
        policy(allow(), context={"list": [1]}),
        policy(allow(), usageIdentifierKey=5),
    ],
)
def test_malformed_outputs_are_500_with_a_null_message(payload):
    with pytest.raises(AuthorizerFailure) as failed:
        parse_output(payload)
    response = failed.value.response
    assert response.status == 500
    assert json.loads(response.body) == {"message": None}
    assert response.header("x-amzn-ErrorType") == "AuthorizerConfigurationException"


def test_the_context_map_and_principal_pass_to_the_request_context():
    output = parse_output(
        policy(allow(), context={"s": "x", "n": 1, "b": True}, usageIdentifierKey="key-1")
    )
    assert output.usage_identifier_key == "key-1"
    assert request_context_authorizer(output, 12) == {
        "principalId": "ann",
        "integrationLatency": 12,
        "s": "x",
        "n": "1",  # stringified, as API Gateway passes the context on
        "b": "true",
    }
    assert request_context_authorizer(output, None) == {
        "principalId": "ann",
        "s": "x",
        "n": "1",  # stringified, as API Gateway passes the context on
        "b": "true",
    }


def test_the_cache_keeps_a_result_for_its_ttl_per_identity():
    cache = AuthorizerCache()
    output = parse_output(policy(allow()))
    cache.put("auth", ("tok",), output, now=100.0, ttl=300)
    cache.put("auth", ("other",), output, now=100.0, ttl=0)  # TTL 0: not cached
    assert cache.get("auth", ("tok",), 399.999) is output
    assert cache.get("auth", ("tok",), 400.0) is None
    assert cache.get("auth", ("other",), 100.0) is None
    assert cache.get("another", ("tok",), 100.0) is None


def test_unauthorized_is_401_with_aws_body():
    response = Unauthorized("missing").response
    assert response.status == 401
    assert json.loads(response.body) == {"message": "Unauthorized"}
    assert response.header("x-amzn-ErrorType") == "UnauthorizedException"
