import argparse
import json
import logging
import re
import textwrap

import pytest

from emulator.service import ServiceError
from emulator.service.variables import param_option, read_config


def config(tmp_path, yml: str, **options):
    """serverless.yml written in a folder of its own, read as ``timeoutlab up`` reads it; a
    ``provider: {name: aws}`` is added unless ``yml`` has its own."""
    folder = tmp_path / "svc"
    folder.mkdir(exist_ok=True)
    path = folder / "serverless.yml"
    body = textwrap.dedent(yml)
    # A key given twice is refused (as js-yaml does): the test's own `provider:` replaces ours.
    provider = "" if re.search(r"^provider:", body, re.MULTILINE) else "provider:\n  name: aws\n"
    path.write_text("service: s\n" + provider + body)
    return read_config(path, **options)


PARAMS = """
params:
  default:
    domain: ${sls:stage}.preview.example.com
    only: from-default
  prod:
    domain: example.com
custom:
  domain: ${param:domain}
  only: ${param:only}
"""


def test_param_takes_the_stage_level_over_default(tmp_path):
    assert config(tmp_path, PARAMS)["custom"] == {
        "domain": "dev.preview.example.com",
        "only": "from-default",
    }
    assert config(tmp_path, PARAMS, stage="prod")["custom"] == {
        "domain": "example.com",
        "only": "from-default",
    }


def test_param_from_the_command_line_comes_first(tmp_path):
    custom = config(tmp_path, PARAMS, stage="prod", params={"domain": "cli.example.com"})["custom"]
    assert custom["domain"] == "cli.example.com"


def test_param_without_value_uses_its_fallback_else_says_where_to_set_it(tmp_path):
    assert config(tmp_path, "custom:\n  a: ${param:nope, 'fb'}\n")["custom"]["a"] == "fb"
    with pytest.raises(ServiceError) as caught:
        config(tmp_path, "provider:\n  name: aws\n  environment:\n    A: ${param:nope}\n")
    message = str(caught.value)
    assert "provider.environment.A: variable ${param:nope} has no value" in message
    assert "--param nope=" in message
    assert "params.dev.nope" in message


def test_file_whole_or_a_key_relative_to_the_service_folder(tmp_path):
    folder = tmp_path / "svc"
    (folder / "conf").mkdir(parents=True)
    (folder / "conf" / "dev.yml").write_text("schedule: rate(1 minute)\nlist: [a, b]\n")
    (folder / "config.json").write_text(json.dumps({"db": {"name": "orders", "port": 5432}}))
    (folder / "banner.txt").write_text("hello\n")
    custom = config(
        tmp_path,
        """
        custom:
          whole: ${file(./conf/${sls:stage}.yml)}
          key: ${file(./conf/dev.yml):schedule}
          nested: ${file(config.json):db.name}
          typed: ${file(config.json):db.port}
          item: ${file(./conf/dev.yml):list.1}
          text: ${file(./banner.txt)}
        """,
    )["custom"]
    assert custom == {
        "whole": {"schedule": "rate(1 minute)", "list": ["a", "b"]},
        "key": "rate(1 minute)",
        "nested": "orders",
        "typed": 5432,
        "item": "b",
        "text": "hello\n",
    }


def test_file_missing_file_or_key_is_named_unless_there_is_a_fallback(tmp_path):
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "config.json").write_text('{"key": "v"}')
    assert config(tmp_path, "custom:\n  a: ${file(./none.yml):x, 'fb'}\n")["custom"]["a"] == "fb"
    with pytest.raises(ServiceError, match=r"custom\.a: .*file \./none\.yml does not exist"):
        config(tmp_path, "custom:\n  a: ${file(./none.yml):x}\n")
    with pytest.raises(ServiceError, match=r"custom\.a: .*file config\.json has no key nothere"):
        config(tmp_path, "custom:\n  a: ${file(config.json):nothere}\n")


def test_file_of_javascript_is_refused_not_run(tmp_path):
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "vars.js").write_text("module.exports = () => ({a: 1})\n")
    with pytest.raises(ServiceError, match=r"custom\.a: .*vars\.js is JavaScript"):
        config(tmp_path, "custom:\n  a: ${file(./vars.js):a, 'fb'}\n")


def test_cloud_sources_use_their_fallback_with_one_warning_per_variable(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="timeoutlab")
    custom = config(
        tmp_path,
        """
        custom:
          a: ${ssm:/my/param, 'fallback'}
          b: ${ssm:/my/param, 'fallback'}
          c: ${cf:stack.Output, null}
          d: ${s3:bucket/key, 5}
          e: ${vault:secret/x, 'plugin-fb'}
        """,
    )["custom"]
    assert custom == {"a": "fallback", "b": "fallback", "c": None, "d": 5, "e": "plugin-fb"}
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4
    assert sum("${ssm:/my/param, 'fallback'}" in line for line in lines) == 1
    assert any("custom.c" in line and "does not reach" in line for line in lines)
    assert any("'vault' is not supported here" in line for line in lines)


@pytest.mark.parametrize("source", ["ssm:/my/param", "cf:stack.Output", "s3:bucket/key"])
def test_cloud_sources_without_fallback_say_how_to_give_a_value(tmp_path, source):
    with pytest.raises(ServiceError) as caught:
        config(tmp_path, f"custom:\n  holder:\n    TABLE: ${{{source}}}\n")
    message = str(caught.value)
    assert "\n" not in message
    assert f"custom.holder.TABLE: ${{{source}}}: " in message
    assert "does not reach" in message
    assert f"${{{source}, 'value'}}" in message
    assert "--param" in message


def test_fallbacks_may_be_sources_tried_in_turn(tmp_path, monkeypatch):
    monkeypatch.delenv("TL_UNSET_A", raising=False)
    monkeypatch.setenv("TL_SET_B", "from-b")
    custom = config(
        tmp_path,
        """
        provider:
          name: aws
          region: eu-west-1
        custom:
          region: ${opt:region, self:provider.region, 'us-east-1'}
          env: ${env:TL_UNSET_A, env:TL_SET_B, 'x'}
          empty: ${env:TL_UNSET_A, ''}
          comma: ${env:TL_UNSET_A, 'a, b'}
        """,
    )["custom"]
    assert custom == {"region": "eu-west-1", "env": "from-b", "empty": "", "comma": "a, b"}


def test_values_inside_longer_strings_are_written_as_javascript_writes_them(tmp_path):
    custom = config(
        tmp_path,
        """
        custom:
          flag: true
          whole: 1.0
          half: 1.50
          map: {a: 1}
          text: ${self:custom.flag}-${self:custom.whole}-${self:custom.half}
        """,
    )["custom"]
    assert custom["text"] == "true-1-1.5"
    with pytest.raises(ServiceError, match=r"custom\.bad: .*its value is a mapping"):
        config(tmp_path, "custom:\n  map: {a: 1}\n  bad: x-${self:custom.map}\n")
    with pytest.raises(ServiceError, match=r"custom\.bad: .*its value is null"):
        config(tmp_path, "custom:\n  bad: x-${env:TL_SURELY_UNSET, null}\n")


def test_yes_and_on_are_strings_as_in_yaml_1_2(tmp_path):
    custom = config(tmp_path, "custom:\n  a: yes\n  b: on\n  c: true\n  d: False\n")["custom"]
    assert custom == {"a": "yes", "b": "on", "c": True, "d": False}


def test_errors_name_the_key_holding_the_variable(tmp_path):
    yml = """
    custom:
      a: ${self:custom.b}
      b: ${self:custom.nothere}
    functions:
      f:
        events:
          - http:
              path: ${self:custom.gone}
    """
    with pytest.raises(ServiceError, match=r"serverless\.yml: custom\.b: variable \$\{self:custom"):
        config(tmp_path, yml)
    with pytest.raises(ServiceError, match=r"functions\.f\.events\[0\]\.http\.path: variable"):
        config(tmp_path, yml.replace("${self:custom.nothere}", "ok"))


def test_param_option_takes_name_equals_value():
    assert param_option("domain=a=b ") == ("domain", "a=b")
    for bad in ("novalue", "=x", "name="):
        with pytest.raises(argparse.ArgumentTypeError, match="is not NAME=value"):
            param_option(bad)


def test_a_circular_reference_names_its_key_path_and_chain(tmp_path):
    with pytest.raises(ServiceError) as caught:
        config(tmp_path, "custom:\n  x: ${self:custom.y}\n  y: ${self:custom.x}\n")
    message = str(caught.value)
    assert message.endswith(
        "serverless.yml: custom.y: variable ${self:custom.x} is a circular reference "
        "(custom.x -> custom.y -> custom.x)"
    ) or message.endswith(
        "serverless.yml: custom.x: variable ${self:custom.y} is a circular reference "
        "(custom.y -> custom.x -> custom.y)"
    )


def test_a_circular_reference_reached_from_elsewhere_names_the_loop(tmp_path):
    with pytest.raises(ServiceError) as caught:
        config(
            tmp_path,
            "  environment:\n    A: ${self:custom.x}\ncustom:\n  x: ${self:custom.x}\n",
        )
    assert str(caught.value).endswith(
        "serverless.yml: custom.x: variable ${self:custom.x} is a circular reference "
        "(custom.x -> custom.x)"
    )


def test_a_date_inside_a_longer_string_is_refused_saying_it_is_a_date(tmp_path):
    with pytest.raises(ServiceError) as caught:
        config(tmp_path, "custom:\n  day: 2024-01-01\n  name: report-${self:custom.day}\n")
    message = str(caught.value)
    assert "custom.name: variable ${self:custom.day} is part of a longer string" in message
    assert "a date (2024-01-01T00:00:00.000Z" in message
    assert "quote it" in message
    # quoted, it is text and fits anywhere
    quoted = config(tmp_path, "custom:\n  day: '2024-01-01'\n  name: report-${self:custom.day}\n")
    assert quoted["custom"]["name"] == "report-2024-01-01"
