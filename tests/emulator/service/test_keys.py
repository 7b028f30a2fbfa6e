"""Which serverless.yml keys are modelled, inert or warned; the warning a user sees at start."""

from pathlib import Path

from emulator.service import default_service_path, load_service
from emulator.service.keys import KEYS, Kind, kind_of, unmodelled_keys, warning_line
from emulator.stack import Stack, StackConfig
from tests.support import write_service

HANDLER = "def handler(event, context):\n    return {'statusCode': 200}\n"
README = Path(__file__).parents[3] / "README.md"


def test_the_bundled_services_start_without_a_warning():
    assert load_service(default_service_path()).unmodelled == ()
    node = Path(__file__).parents[3] / "examples" / "node-report" / "serverless.yml"
    assert load_service(node).unmodelled == ()


def test_unmodelled_keys_are_named_by_their_path_in_file_order():
    config = {
        "service": "x",
        "frameworkVersion": "3",
        "plugins": ["serverless-offline"],
        "provider": {
            "name": "aws",
            "iam": {"role": {"statements": []}},
            "apiGateway": {"minimumCompressionSize": 1024, "metrics": True},
        },
        "functions": {
            "f": {
                "handler": "app.handler",
                "layers": ["arn:aws:lambda:us-east-1:1:layer:x:1"],
                "tags": {"team": "a"},
                "events": [
                    {"http": "GET x"},
                    {"http": {"path": "y", "method": "get", "request": {"schemas": {}}}},
                    {"http": {"path": "z", "method": "get", "integration": "lambda"}},
                    {"http": {"path": "w", "method": "get", "integration": "lambda-proxy"}},
                    {"schedule": "rate(1 minute)"},
                ],
            }
        },
        "custom": {"mine": 1, "timeoutlab": {"integrationTimeout": 10, "typo": 1}},
        "resources": {
            "Resources": {
                "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}},
                "Bucket": {
                    "Type": "AWS::S3::Bucket",
                    "Properties": {"BucketName": "b-1", "Tags": [], "CorsConfiguration": {}},
                },
            },
            "Outputs": {"X": {"Value": 1}},
        },
    }
    assert unmodelled_keys(config) == [
        "provider.apiGateway.minimumCompressionSize",
        "functions.f.layers",
        "functions.f.events[1].http.request",
        "functions.f.events[2].http.integration",
        "functions.f.events[4].schedule",
        "custom.timeoutlab.typo",
        "resources.Resources.Bucket.Properties.CorsConfiguration",
    ]


def test_the_most_literal_pattern_wins():
    assert kind_of(["custom", "anything"]) is Kind.INERT
    assert kind_of(["custom", "timeoutlab"]) is Kind.BRANCH
    assert kind_of(["provider", "nosuchkey"]) is None


def test_a_stack_warns_once_per_key_at_start_on_stderr(tmp_path, capsys):
    path = write_service(
        tmp_path,
        HANDLER,
        """
        f:
          handler: app.handler
          provisionedConcurrency: 2
          events:
            - sqs: arn:aws:sqs:us-east-1:000000000000:q
        """,
    )
    Stack(StackConfig(service_path=path, http_port=0, ws_port=0))  # warns without starting
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "timeoutlab: warning: functions.f.provisionedConcurrency: not modelled, ignored",
        "timeoutlab: warning: functions.f.events[0].sqs: not modelled, ignored",
    ]
    assert warning_line("a.b") == "timeoutlab: warning: a.b: not modelled, ignored"


def test_the_readme_lists_every_modelled_and_inert_key():
    readme = README.read_text()
    missing = [
        pattern
        for pattern, kind in KEYS.items()
        if kind is not Kind.BRANCH and f"`{pattern}`" not in readme
    ]
    assert missing == []


def test_api_features_are_modelled_and_their_unmodelled_parts_warned(tmp_path):
    path = write_service(
        tmp_path,
        HANDLER,
        """
        auth:
          handler: app.handler
        f:
          handler: app.handler
          events:
            - http: {path: a, method: get, private: true, cors: true, authorizer: auth}
            - http: {path: b, method: get, authorizer: aws_iam}
            - http:
                path: c
                method: get
                authorizer: {name: auth, type: request, identitySource: method.request.header.X}
            - http: {path: d, method: get, authorizer: {name: auth, scopes: [read]}}
            - httpApi: 'GET /items/{id}'
            - httpApi: {method: get, path: /x, authorizer: {name: jwt}}
        """,
        provider="""
        apiGateway:
          apiKeys: [first]
          binaryMediaTypes: ['image/*']
          usagePlan: {quota: {limit: 100, period: DAY}}
        httpApi:
          payload: '1.0'
          cors: true
        """,
    )
    assert load_service(path).unmodelled == (
        "provider.apiGateway.usagePlan.quota",
        "provider.httpApi.cors",
        "functions.f.events[3].http.authorizer.scopes",
        "functions.f.events[5].httpApi.authorizer",
        "functions.f.events[1].http.authorizer",
    )
