import textwrap

import pytest

from emulator.service import ServiceError, default_service_path, load_service
from tests.support import write_service

HANDLER = "def handler(event, context):\n    return {'statusCode': 200}\n"


def test_the_bundled_report_app_resolves_its_variables():
    service = load_service(default_service_path())
    assert (service.name, service.stage, service.region) == (
        "timeoutlab-reports",
        "dev",
        "us-east-1",
    )
    fn = service.functions["generateReport"]
    assert fn.name == "timeoutlab-reports-dev-generateReport"
    assert fn.timeout == 900
    assert fn.memory_mb == 1024
    assert fn.environment["REPORTS_BUCKET"] == "timeoutlab-reports-dev"
    assert [r.key for r in service.rest_routes] == [
        "POST /reports",
        "POST /reports/jobs",
        "GET /reports/jobs/{jobId}",
        "GET /reports/jobs/{jobId}/events",
        "GET /reports/jobs/{jobId}/events/stream",
    ]
    assert service.streaming_routes == {"GET /reports/jobs/{jobId}/events/stream"}
    assert [r.key for r in service.websocket_routes] == [
        "$connect",
        "$disconnect",
        "$default",
        "generateReport",
        "getReport",
    ]
    assert service.buckets == ["timeoutlab-reports-dev"]
    table, jobs = service.tables
    assert jobs.name == "timeoutlab-jobs-dev"
    assert table.name == "timeoutlab-connections-dev"
    assert table.ttl_attribute == "ttl"
    assert service.integration_timeout == 29


def test_stage_option_flows_through_every_variable():
    service = load_service(default_service_path(), stage="prod")
    assert service.stage == "prod"
    assert service.buckets == ["timeoutlab-reports-prod"]
    assert service.functions["generateReport"].environment["CONNECTIONS_TABLE"] == (
        "timeoutlab-connections-prod"
    )


def test_variables_fallbacks_env_and_typed_values(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_TEST_NAME", "from-env")
    path = write_service(
        tmp_path,
        HANDLER,
        """
        hello:
          handler: app.handler
          timeout: ${self:custom.fnTimeout}
          environment:
            VA: ${env:TL_TEST_NAME}
            VB: ${env:TL_TEST_MISSING, 'fallback'}
            VC: pre-${self:custom.nested}-post
            VD: ${aws:accountId}/${aws:region}
          events:
            - http: GET things/{id}
            - http: {path: /things, method: any}
        """,
        extra="""
        custom:
          fnTimeout: 12
          nested: ${sls:stage}
          timeoutlab:
            routeTimeouts:
              "GET /things/{id}": 3
        resources:
          Resources:
            Data:
              Type: AWS::S3::Bucket
            Ref:
              Type: AWS::SNS::Topic
              Properties:
                TopicName: !Ref Data
        """,
    )
    service = load_service(path)
    fn = service.functions["hello"]
    assert fn.timeout == 12.0
    assert fn.environment == {
        "VA": "from-env",
        "VB": "fallback",
        "VC": "pre-dev-post",
        "VD": "000000000000/us-east-1",
    }
    assert [r.key for r in service.rest_routes] == ["GET /things/{id}", "ANY /things"]
    assert service.route_timeouts == {"GET /things/{id}": 3.0}
    assert service.buckets == ["inline-dev-data"]


@pytest.mark.parametrize(
    ("functions", "extra", "message"),
    [
        ("f:\n  events: []", "", "`handler` is missing"),
        ("f:\n  handler: nowhere.handler", "", "does not exist"),
        ("f:\n  handler: app", "", "must look like 'file.function'"),
        ("f:\n  handler: app.handler\n  timeout: 901", "", "timeout must be 1..900"),
        ("f:\n  handler: app.handler\n  runtime: ruby3.3", "", "ruby3.3 is not supported"),
        ("f:\n  handler: app.handler\n  runtime: nodejs20.x", "", r"app\.js or .*app\.mjs or"),
        ("f:\n  handler: ../app.handler", "", "outside the service folder"),
        ("f:\n  handler: app.handler\n  events:\n    - http: FETCH /x", "", "http method"),
        (
            "f:\n  handler: app.handler\n  environment:\n    VA: ${self:custom.none}",
            "",
            r"functions\.f\.environment\.VA: variable \$\{self:custom\.none\} has no value",
        ),
        (
            "f:\n  handler: app.handler\n  environment:\n    VA: ${ssm:/x}",
            "",
            r"functions\.f\.environment\.VA: \$\{ssm:/x\}: ssm variables read .* on AWS",
        ),
        (
            "f:\n  handler: app.handler",
            "custom:\n  timeoutlab:\n    routeTimeouts:\n      'GET /x': 3\n",
            "not a route",
        ),
        (
            "f:\n  handler: app.handler",
            "custom:\n  timeoutlab:\n    integrationTimeout: 0\n",
            "between",
        ),
        (
            "f:\n  handler: app.handler\n  events:\n    - http: GET a\n    - http: GET a",
            "",
            r"http: route GET /a is declared twice",
        ),
        (
            "f:\n  handler: app.handler\n  events:\n    - http: GET a/{proxy+}/b",
            "",
            "greedy parameter must be last",
        ),
        ("f:\n  handler: app.handler\n  events: 5", "", r"functions\.f\.events must be a list"),
        (
            "f:\n  handler: app.handler\n  events:\n    - http",
            "",
            r"functions\.f\.events\[0\] must be a mapping",
        ),
        ("f:\n  handler: app.handler\n  timeout: abc", "", "timeout must be a number"),
        ("f:\n  handler: app.handler\n  timeout: 0", "", r"timeout must be 1\.\.900 s, got 0"),
        ("f:\n  handler: app.handler\n  memorySize: 512.5", "", "memorySize must be an integer"),
        (
            "f:\n  handler: app.handler\n  events:\n    - http: {method: get}",
            "",
            "an http event needs a path",
        ),
        ("f: 5", "", r"functions\.f: `handler` is missing"),
    ],
)
def test_mistakes_are_reported_with_where_they_are(tmp_path, functions, extra, message):
    path = write_service(tmp_path, HANDLER, functions, extra=extra)
    with pytest.raises(ServiceError, match=message):
        load_service(path)


def test_unreadable_or_invalid_files_say_so(tmp_path):
    with pytest.raises(ServiceError, match="cannot read"):
        load_service(tmp_path / "missing.yml")
    bad = tmp_path / "serverless.yml"
    bad.write_text("service: [unclosed\n")
    with pytest.raises(ServiceError, match="not valid YAML"):
        load_service(bad)


def test_nodejs_handlers_resolve_to_js_mjs_or_cjs_files_in_the_service_folder(tmp_path):
    path = write_service(
        tmp_path,
        HANDLER,
        """
        plain:
          handler: report.handler
          runtime: nodejs20.x
        nested:
          handler: src/api.handlers.create
          runtime: nodejs22.x
        common:
          handler: legacy.main
          runtime: nodejs20.x
        python:
          handler: app.handler
        """,
    )
    (tmp_path / "report.js").write_text("export const handler = async () => 1;\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "api.mjs").write_text("export const handlers = {};\n")
    (tmp_path / "legacy.cjs").write_text("exports.main = () => 1;\n")
    functions = load_service(path).functions
    assert functions["plain"].module_path == tmp_path / "report.js"
    assert functions["plain"].attribute == "handler"
    assert functions["plain"].runtime == "nodejs20.x"
    assert functions["nested"].module_path == tmp_path / "src" / "api.mjs"
    assert functions["nested"].attribute == "handlers.create"
    assert functions["common"].module_path == tmp_path / "legacy.cjs"
    assert functions["python"].module_path == tmp_path / "app.py"


def test_the_stage_option_beats_provider_stage_as_serverless_stage_does(tmp_path):
    path = write_service(tmp_path, "def h(e, c):\n    pass\n", "f:\n  handler: app.h")
    assert "stage: dev" in path.read_text()  # provider.stage of the inline service
    assert load_service(path).stage == "dev"
    assert load_service(path, stage="prod").stage == "prod"


@pytest.mark.parametrize("stage", ["bad stage", "x/y", "a" * 129])
def test_a_stage_name_api_gateway_would_refuse_is_refused(tmp_path, stage):
    path = write_service(tmp_path, "def h(e, c):\n    pass\n", "f:\n  handler: app.h")
    with pytest.raises(ServiceError, match="a stage name is 1 to 128 letters"):
        load_service(path, stage=stage)


def _rest_service(tmp_path, provider: str, events: str = "- http: {path: items, method: get}"):
    functions = f"fn:\n  handler: app.handler\n  events:\n{textwrap.indent(events, '    ')}"
    return load_service(write_service(tmp_path, HANDLER, functions, provider=provider))


def test_api_keys_in_every_form_serverless_accepts(tmp_path):
    service = _rest_service(
        tmp_path,
        """
        apiGateway:
          apiKeys:
            - plain
            - {name: given, value: abcdefghijklmnopqrstu}
            - free:
                - freeKey
            - paid:
                - {name: paidKey, value: PAIDPAIDPAIDPAIDPAIDPAID, enabled: false}
          usagePlan:
            - free: {quota: {limit: 100, period: DAY}}
            - paid: {throttle: {rateLimit: 10}}
        """,
        "- http: {path: items, method: get, private: true}",
    )
    keys = {key.name: key for key in service.api_keys}
    assert list(keys) == ["plain", "given", "freeKey", "paidKey"]
    assert keys["given"].value == "abcdefghijklmnopqrstu"
    assert not keys["given"].generated
    assert keys["plain"].generated
    assert len(keys["plain"].value) == 40
    assert keys["plain"].value.isalnum()
    assert (keys["freeKey"].usage_plan, keys["paidKey"].usage_plan) == ("free", "paid")
    assert keys["paidKey"].enabled is False
    assert len({key.id for key in service.api_keys}) == 4
    assert service.rest_routes[0].api_key_required is True


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        (
            "apiGateway: {apiKeys: [{name: short, value: tooShort}]}",
            r"apiKeys\[0\]\.value: an API key value must be at least 20 characters",
        ),
        (
            "apiGateway: {apiKeys: [{gold: [k1]}], usagePlan: [{free: {}}]}",
            r"apiKeys\[0\]: API key group 'gold' has no usage plan defined",
        ),
        ("apiGateway: {apiKeys: plain}", r"apiKeys must be a list"),
        ("apiGateway: {apiKeys: [{name: k, colour: red}]}", r"apiKeys\[0\] must be a name or"),
        ("apiGateway: {binaryMediaTypes: [png]}", r"binaryMediaTypes\[0\]: 'png' is not a media"),
    ],
)
def test_api_gateway_settings_aws_or_serverless_refuse(tmp_path, provider, message):
    with pytest.raises(ServiceError, match=message):
        _rest_service(tmp_path, provider)


def test_binary_media_types_are_read(tmp_path):
    service = _rest_service(tmp_path, "apiGateway: {binaryMediaTypes: ['image/*', '*/*']}")
    assert service.binary_media_types == ("image/*", "*/*")


def test_cors_events_merge_per_path_as_serverless_does(tmp_path):
    service = _rest_service(
        tmp_path,
        "",
        "- http: {path: items, method: get, cors: true}\n"
        "- http: {path: items, method: post, cors: {origins: ['https://a.example'],"
        " headers: [X-One], allowCredentials: true, maxAge: 60}}\n"
        "- http: {path: other, method: get}",
    )
    rule = service.cors["/items"]
    assert rule.methods == ("OPTIONS", "POST", "GET")
    assert rule.headers[0] == "X-One"
    assert "Content-Type" in rule.headers
    assert rule.origins == ("https://a.example",)
    assert (rule.allow_credentials, rule.max_age) == (True, 60)
    assert "/other" not in service.cors


def test_a_private_flag_or_cors_of_the_wrong_type_is_refused(tmp_path):
    with pytest.raises(ServiceError, match=r"http\.private must be true or false"):
        _rest_service(tmp_path, "", "- http: {path: items, method: get, private: 'yes'}")
    with pytest.raises(ServiceError, match=r"http\.cors\.origins must be a string or a list"):
        _rest_service(tmp_path, "", "- http: {path: items, method: get, cors: {origins: 3}}")


AUTH_FUNCTIONS = """
auth:
  handler: app.handler
  name: custom-auth-name
f:
  handler: app.handler
  events:
    - http: {method: GET, path: a, authorizer: auth}
    - http:
        method: GET
        path: b
        authorizer:
          name: auth
          type: request
          resultTtlInSeconds: 0
    - http:
        method: GET
        path: c
        authorizer:
          name: token-auth
          arn: arn:aws:lambda:us-east-1:000000000000:function:custom-auth-name
          identitySource: method.request.header.X-Token
          identityValidationExpression: '^Bearer .+$'
          resultTtlInSeconds: 60
    - http: {method: GET, path: d, authorizer: aws_iam}
    - http: {method: GET, path: e, authorizer: {type: COGNITO_USER_POOLS, authorizerId: abc}}
    - http: {method: GET, path: f, authorizer: 'arn:aws:lambda:us-east-1:1:function:elsewhere'}
    - websocket: {route: $connect, authorizer: auth}
"""


def test_authorizers_parse_with_serverless_defaults(tmp_path):
    from emulator.core.authorizers import AuthorizerType, IdentityLocation

    service = load_service(write_service(tmp_path, HANDLER, AUTH_FUNCTIONS))
    by_route = service.rest_authorizers
    a = by_route["GET /a"]
    assert (a.function, a.type, a.result_ttl) == ("auth", AuthorizerType.TOKEN, 300)
    assert [(s.location, s.name) for s in a.identity_sources] == [
        (IdentityLocation.HEADER, "Authorization")
    ]
    b = by_route["GET /b"]  # REQUEST with caching off: Serverless sets no identity source
    assert (b.type, b.result_ttl, b.identity_sources) == (AuthorizerType.REQUEST, 0, ())
    c = by_route["GET /c"]  # an ARN naming this service's own function by its deployed name
    assert (c.name, c.function, c.result_ttl) == ("token-auth", "auth", 60)
    assert c.identity_sources[0].name == "X-Token"
    assert c.validation_expression == "^Bearer .+$"
    # AWS_IAM, Cognito and functions outside the service are not Lambda authorizers run here.
    assert set(by_route) == {"GET /a", "GET /b", "GET /c"}
    ws = service.websocket_authorizer
    assert ws is not None
    assert (ws.function, ws.type, ws.result_ttl) == ("auth", AuthorizerType.REQUEST, 0)
    assert [s.name for s in ws.identity_sources] == ["Auth"]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            "http: {method: GET, path: a, authorizer: nobody}",
            r"events\[0\]\.http\.authorizer: function 'nobody' is not defined",
        ),
        (
            "http: {method: GET, path: a, authorizer: {name: f, resultTtlInSeconds: 4000}}",
            "0..3600",
        ),
        ("http: {method: GET, path: a, authorizer: {name: f, type: custom}}", "is not TOKEN"),
        ("http: {method: GET, path: a, authorizer: {resultTtlInSeconds: 5}}", "name or ARN"),
        (
            "http: {method: GET, path: a, authorizer: "
            "{name: f, identitySource: method.request.querystring.t}}",
            "TOKEN authorizer's identitySource",
        ),
        (
            "websocket: {route: echo, authorizer: f}",
            r"events\[0\]\.websocket\.authorizer: .*\$connect route only",
        ),
        ("websocket: {route: $connect, authorizer: {name: ghost}}", "'ghost' is not defined"),
        (
            "websocket: {route: $connect, authorizer: "
            "{name: f, identitySource: [method.request.header.A]}}",
            "route.request.header.NAME",
        ),
    ],
)
def test_authorizers_aws_would_refuse_are_refused_with_their_key_path(tmp_path, event, message):
    functions = f"f:\n  handler: app.handler\n  events:\n    - {event}"
    with pytest.raises(ServiceError, match=message):
        load_service(write_service(tmp_path, HANDLER, functions))


ASYNC_FUNCTIONS = """
work:
  handler: app.handler
  maximumRetryAttempts: 0
  maximumEventAge: 60
  destinations:
    onSuccess: audit
    onFailure: {type: sqs, arn: !GetAtt Failures.Arn}
other:
  handler: app.handler
  maximumRetryAttempts: '2'
  maximumEventAge: 21600
  destinations:
    onSuccess: arn:aws:lambda:us-east-1:000000000000:function:inline-dev-audit
    onFailure: arn:aws:lambda:us-east-1:000000000000:function:elsewhere
third:
  handler: app.handler
  destinations:
    onSuccess: {type: function, arn: {'Fn::GetAtt': [AuditLambdaFunction, Arn]}}
    onFailure: arn:aws:sns:us-east-1:000000000000:alerts
fourth:
  handler: app.handler
  destinations:
    onFailure: {type: eventBus, arn: !Join [':', [arn, aws, events, x, '1', event-bus/b]]}
audit: {handler: app.handler}
"""
QUEUES = """
resources:
  Resources:
    Failures:
      Type: AWS::SQS::Queue
    Ordered:
      Type: AWS::SQS::Queue
      Properties:
        QueueName: ordered.fifo
        FifoQueue: true
        VisibilityTimeout: 30
"""


def test_async_settings_and_destinations_in_every_form_serverless_takes(tmp_path):
    service = load_service(write_service(tmp_path, HANDLER, ASYNC_FUNCTIONS, extra=QUEUES))
    failures, ordered = service.queues
    assert (failures.name, failures.arn) == (
        "inline-dev-Failures",
        "arn:aws:sqs:us-east-1:000000000000:inline-dev-Failures",
    )
    assert failures.attributes == {}
    assert ordered.name == "ordered.fifo"
    assert ordered.attributes == {"FifoQueue": "true", "VisibilityTimeout": "30"}

    audit_arn = "arn:aws:lambda:us-east-1:000000000000:function:inline-dev-audit"
    work = service.functions["work"].async_config
    assert (work.maximum_retry_attempts, work.maximum_event_age) == (0, 60)
    assert (work.on_success.kind, work.on_success.arn, work.on_success.function_key) == (
        "function",
        audit_arn,
        "audit",
    )
    assert (work.on_failure.kind, work.on_failure.arn) == ("sqs", failures.arn)
    other = service.functions["other"].async_config
    assert (other.maximum_retry_attempts, other.maximum_event_age) == (2, 21600)
    assert other.on_success.function_key == "audit"
    assert other.on_failure.function_key is None  # not in this service: deliveries will fail
    third = service.functions["third"].async_config
    assert (third.on_success.arn, third.on_success.function_key) == (audit_arn, "audit")
    assert (third.on_failure.kind, third.on_failure.modelled) == ("sns", False)
    # An intrinsic function the emulator does not resolve: ignored.
    assert service.functions["fourth"].async_config.on_failure is None
    # Each destination not delivered here is warned at start, by its key path.
    assert service.unmodelled == (
        "functions.other.destinations.onFailure",
        "functions.third.destinations.onFailure",
        "functions.fourth.destinations.onFailure",
    )
    defaults = service.functions["audit"].async_config
    assert defaults.maximum_retry_attempts is None
    assert defaults.on_failure is None


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "maximumRetryAttempts: 3",
            r"functions\.f\.maximumRetryAttempts must be an integer 0\.\.2",
        ),
        ("maximumRetryAttempts: -1", "maximumRetryAttempts must be an integer 0..2, got -1"),
        ("maximumRetryAttempts: true", "maximumRetryAttempts must be an integer"),
        ("maximumEventAge: 59", r"functions\.f\.maximumEventAge must be an integer 60\.\.21600"),
        ("maximumEventAge: 21601", "maximumEventAge must be an integer 60..21600"),
        ("destinations: audit", "destinations must be a mapping"),
        (
            "destinations: {onFailure: nothere}",
            r"functions\.f\.destinations\.onFailure: 'nothere' is neither a function",
        ),
        (
            "destinations: {onFailure: 'arn:aws:s3:::bucket'}",
            "unsupported destination target 'arn:aws:s3:::bucket'",
        ),
        (
            "destinations: {onSuccess: {type: kinesis, arn: 'arn:aws:kinesis:x'}}",
            r"destinations\.onSuccess\.type must be one of function, sqs, sns, eventBus",
        ),
        (
            "destinations: {onSuccess: {arn: 'arn:aws:sqs:us-east-1:000000000000:q'}}",
            "must be a function name, an ARN, or a mapping with type and arn",
        ),
    ],
)
def test_async_settings_lambda_or_serverless_would_refuse_are_refused(tmp_path, setting, message):
    functions = f"f:\n  handler: app.handler\n  {setting}\naudit: {{handler: app.handler}}"
    with pytest.raises(ServiceError, match=message):
        load_service(write_service(tmp_path, HANDLER, functions))


def test_a_fifo_queue_must_be_named_dot_fifo(tmp_path):
    extra = (
        "resources:\n  Resources:\n    Q:\n      Type: AWS::SQS::Queue\n"
        "      Properties: {QueueName: plain, FifoQueue: true}\n"
    )
    path = write_service(tmp_path, HANDLER, "f: {handler: app.handler}", extra=extra)
    with pytest.raises(ServiceError, match=r"Resources\.Q\.Properties\.QueueName: a FIFO queue"):
        load_service(path)


def test_a_reserved_variable_in_provider_environment_is_named_there(tmp_path):
    path = write_service(tmp_path, HANDLER, "f:\n  handler: app.handler")
    path.write_text(
        path.read_text().replace("stage: dev\n", "stage: dev\n  environment:\n    _HANDLER: x\n")
    )
    with pytest.raises(ServiceError, match=r"provider\.environment: _HANDLER is reserved"):
        load_service(path)


def test_a_service_using_params_files_cloud_fallbacks_and_typed_environment(tmp_path):
    (tmp_path / "config.json").write_text('{"key": "v", "limits": {"rows": 100}}')
    path = write_service(
        tmp_path,
        HANDLER,
        """
        envdump:
          handler: app.handler
          environment:
            ROWS: ${file(./config.json):limits.rows}
            OVERRIDDEN: ~
            TABLE: !Ref Data
        """,
        provider="""
        environment:
          PORT: 8080
          DEBUG: true
          RATIO: 1.50
          NULLV: ~
          FROMENV: ${env:SURELY_UNSET_XYZ, null}
          OVERRIDDEN: provider
          DOMAIN: ${param:domain}
          KEY: ${file(./config.json):key}
          SECRET: ${ssm:/my/param, 'fallback'}
          STACK: ${cf:other-stack.Url, 'http://127.0.0.1'}
        """,
        extra="""
        params:
          default:
            domain: ${sls:stage}.example.com
          prod:
            domain: example.com
        """,
    )
    service = load_service(path)
    assert service.functions["envdump"].environment == {
        "PORT": "8080",
        "DEBUG": "true",
        "RATIO": "1.5",
        "DOMAIN": "dev.example.com",
        "KEY": "v",
        "SECRET": "fallback",
        "STACK": "http://127.0.0.1",
        "ROWS": "100",
    }
    assert "functions.envdump.environment.TABLE" in service.unmodelled
    prod = load_service(path, stage="prod", params={"domain": "cli.example.com"})
    assert prod.functions["envdump"].environment["DOMAIN"] == "cli.example.com"


def test_a_nested_environment_value_is_refused_naming_its_key(tmp_path):
    path = write_service(
        tmp_path, HANDLER, "f:\n  handler: app.handler", provider="environment:\n  CONF: {a: 1}"
    )
    with pytest.raises(ServiceError, match=r"serverless\.yml: provider\.environment\.CONF: "):
        load_service(path)


def test_environment_values_are_what_serverless_deploys(tmp_path, caplog):
    """The values `serverless package` (3.40) wrote into the CloudFormation template for this
    environment, numbers and dates read by js-yaml 4, not YAML 1.1."""
    path = write_service(
        tmp_path,
        HANDLER,
        "f:\n  handler: app.handler\n  environment:\n    DF: 2024-01-01 10:00:00 +02:00\n",
        provider="""
        environment:
          ZIP: 01234
          MODE: 0755
          TIME: 1:30
          E21: 1e21
          OCT: 0o17
          SEP: 1_000
          ONE: 0.1e1
          BIG: 12345678901234567890
          DV: 2024-01-01
        """,
    )
    with caplog.at_level("WARNING", logger="timeoutlab"):
        fn = load_service(path).functions["f"]
    assert fn.environment == {
        "ZIP": "1234",
        "MODE": "755",
        "TIME": "1:30",
        "E21": "1e+21",
        "OCT": "15",
        "SEP": "1_000",
        "ONE": "1",
        "BIG": "12345678901234567000",
        "DV": "2024-01-01T00:00:00.000Z",
        "DF": "2024-01-01T08:00:00.000Z",
    }
    warnings = [record.getMessage() for record in caplog.records]
    assert [w for w in warnings if "provider.environment.DV: an unquoted date" in w] == [
        w for w in warnings if "provider.environment.DV" in w
    ]
    assert sum("provider.environment.DV: an unquoted date" in w for w in warnings) == 1
    assert sum("functions.f.environment.DF: an unquoted date" in w for w in warnings) == 1
    assert any("quote the value" in w for w in warnings)


def test_numbers_elsewhere_read_as_serverless_reads_them(tmp_path):
    path = write_service(
        tmp_path,
        HANDLER,
        "f:\n  handler: app.handler\n  timeout: 0.3e2\n  memorySize: 0512\n",
    )
    fn = load_service(path).functions["f"]
    assert (fn.timeout, fn.memory_mb) == (30, 512)
