import httpx
import pytest

from emulator.service import ServiceError
from emulator.service.environment import declared_environment, function_environment
from emulator.stack import StackThread
from tests.support import stack_config, write_service


def test_scalars_become_strings_and_nulls_are_left_unset():
    provider = declared_environment(
        {"PORT": 8080, "DEBUG": True, "RATIO": 1.5, "WHOLE": 1.0, "NULLV": None, "S": "x"},
        "provider.environment",
    )
    assert function_environment(provider, declared_environment(None, "f.environment")) == {
        "PORT": "8080",
        "DEBUG": "true",
        "RATIO": "1.5",
        "WHOLE": "1",
        "S": "x",
    }


def test_the_functions_values_win_and_its_null_unsets_the_providers():
    provider = declared_environment({"A": "p", "B": "p", "C": "p"}, "provider.environment")
    own = declared_environment({"B": False, "C": None, "D": ""}, "functions.f.environment")
    assert function_environment(provider, own) == {"A": "p", "B": "false", "D": ""}


@pytest.mark.parametrize(("value", "kind"), [({"a": 1}, "a mapping"), ([1, 2], "a list")])
def test_a_mapping_or_list_is_refused_naming_the_key(value, kind):
    with pytest.raises(ServiceError, match=rf"^provider\.environment\.NESTED: .*got {kind}"):
        declared_environment({"NESTED": value}, "provider.environment")


def test_not_a_mapping_is_refused():
    with pytest.raises(ServiceError, match="must be a mapping"):
        declared_environment(["A=1"], "provider.environment")


def test_intrinsic_functions_are_left_unset_and_listed():
    declared = declared_environment(
        {"T": {"Ref": "Table"}, "U": {"Fn::GetAtt": ["Q", "Arn"]}, "V": "v"},
        "provider.environment",
    )
    assert declared.intrinsic == ("T", "U")
    assert function_environment(declared, declared_environment({}, "x")) == {"V": "v"}


def test_a_handler_sees_the_values_lambda_would_set(moto_server, tmp_path, caplog):
    """The trial user's report: DEBUG: true, NULLV: ~ and ${env:UNSET, null} reached the
    handler as "True", "None" and "None"."""
    (tmp_path / "config.json").write_text('{"key": "from-file"}')
    service = write_service(
        tmp_path,
        """
        import json, os

        def handler(event, context):
            names = ["PORT", "DEBUG", "RATIO", "NULLV", "FROMENV", "DOMAIN", "KEY", "SECRET"]
            return {"statusCode": 200, "body": json.dumps({n: os.environ.get(n) for n in names})}
        """,
        """
        envdump:
          handler: app.handler
          events: [{http: GET env}]
        """,
        provider="""
        environment:
          PORT: 8080
          DEBUG: true
          RATIO: 1.50
          NULLV: ~
          FROMENV: ${env:SURELY_UNSET_XYZ, null}
          DOMAIN: ${param:domain}
          KEY: ${file(./config.json):key}
          SECRET: ${ssm:/my/param, 'fallback'}
        """,
    )
    config = stack_config(moto_server.endpoint_url, service_path=service, params={"domain": "d"})
    with StackThread(config) as stack:
        got = httpx.get(f"{stack.rest_url}/env", timeout=60)
    assert got.status_code == 200
    assert got.json() == {
        "PORT": "8080",
        "DEBUG": "true",
        "RATIO": "1.5",
        "NULLV": None,
        "FROMENV": None,
        "DOMAIN": "d",
        "KEY": "from-file",
        "SECRET": "fallback",
    }
    assert any("${ssm:/my/param, 'fallback'}" in r.getMessage() for r in caplog.records)
