"""Plain scalars resolved as js-yaml 4.3.2's DEFAULT_SCHEMA (Serverless 3.40's YAML reader) does.

Each expected (type, text) below was produced by js-yaml 4.3.2 itself under Node 20:
``y.load("v: " + scalar).v``, its ``typeof`` (``date`` for a Date, ``null`` for null) and
``String(v)`` (a Date's ``toJSON()``, what a CloudFormation template gets). Rules: the YAML 1.2
core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution) as js-yaml lib/type/{null,bool,
int,float}.js implement it, plus lib/type/timestamp.js and merge.js.
"""

import pytest
import yaml

from emulator.service.js_text import js_string
from emulator.service.yaml_reader import ServerlessYamlLoader
from emulator.service.yaml_schema import JsDate, construct_timestamp

# (scalar as written, its JavaScript type, String(value) / Date JSON) -- from js-yaml 4.3.2.
JS_YAML = [
    ("01234", "number", "1234"),
    ("0755", "number", "755"),
    ("1:30", "string", "1:30"),
    ("1:30:00", "string", "1:30:00"),
    ("190:20:30", "string", "190:20:30"),
    ("1e21", "number", "1e+21"),
    ("0o17", "number", "15"),
    ("0o8", "string", "0o8"),
    ("1_000", "string", "1_000"),
    ("1_000.5", "string", "1_000.5"),
    ("0.1e1", "number", "1"),
    ("12345678901234567890", "number", "12345678901234567000"),
    ("9007199254740993", "number", "9007199254740992"),
    ("100000000000000000000", "number", "100000000000000000000"),
    ("123456789012345678901234567890", "number", "1.2345678901234568e+29"),
    ("0x1F", "number", "31"),
    ("0X1F", "string", "0X1F"),
    ("0xFFFFFFFFFFFFFFFFF", "number", "295147905179352830000"),
    ("0b101", "number", "5"),
    ("0b2", "string", "0b2"),
    ("-0x1F", "number", "-31"),
    ("+12", "number", "12"),
    ("-0", "number", "0"),
    ("0", "number", "0"),
    ("09", "number", "9"),
    ("1.", "number", "1"),
    ("1.0", "number", "1"),
    (".5", "number", "0.5"),
    ("+.5", "string", "+.5"),
    ("-.5", "string", "-.5"),
    ("1e400", "string", "1e400"),
    ("1e-7", "number", "1e-7"),
    ("0.000001", "number", "0.000001"),
    ("-1.5E-3", "number", "-0.0015"),
    ("12e3", "number", "12000"),
    (".inf", "number", "Infinity"),
    ("-.Inf", "number", "-Infinity"),
    ("+.INF", "number", "Infinity"),
    (".NaN", "number", "NaN"),
    ("nan", "string", "nan"),
    ("inf", "string", "inf"),
    ("yes", "string", "yes"),
    ("no", "string", "no"),
    ("on", "string", "on"),
    ("off", "string", "off"),
    ("y", "string", "y"),
    ("n", "string", "n"),
    ("Yes", "string", "Yes"),
    ("ON", "string", "ON"),
    ("true", "boolean", "true"),
    ("True", "boolean", "true"),
    ("TRUE", "boolean", "true"),
    ("tRUE", "string", "tRUE"),
    ("false", "boolean", "false"),
    ("FALSE", "boolean", "false"),
    ("null", "null", None),
    ("Null", "null", None),
    ("NULL", "null", None),
    ("~", "null", None),
    ("nULL", "string", "nULL"),
    ("", "null", None),
    ("2024-01-01", "date", "2024-01-01T00:00:00.000Z"),
    ("2024-1-1", "string", "2024-1-1"),
    ("2024-01-01 10:00:00", "date", "2024-01-01T10:00:00.000Z"),
    ("2024-01-01T10:00:00Z", "date", "2024-01-01T10:00:00.000Z"),
    ("2024-01-01t10:00:00.5+02:00", "date", "2024-01-01T08:00:00.500Z"),
    ("2001-12-14 21:59:43.10 -5", "date", "2001-12-15T02:59:43.100Z"),
    ("2024-02-30", "date", "2024-03-01T00:00:00.000Z"),
    ("0024-01-01", "date", "1924-01-01T00:00:00.000Z"),
    ("2024-13-01", "date", "2025-01-01T00:00:00.000Z"),
    ("2024-00-00", "date", "2023-11-30T00:00:00.000Z"),
    ("2024-01-01T25:00:00Z", "date", "2024-01-02T01:00:00.000Z"),
    ("9999-12-32", "date", "+010000-01-01T00:00:00.000Z"),
    ("1,000", "string", "1,000"),
    ("=", "string", "="),
    ("<<", "string", "<<"),
]


def _as_javascript(value: object) -> tuple[str, str | None]:
    """A loaded value as the (type, text) js-yaml's table gives."""
    if value is None:
        return "null", None
    if isinstance(value, JsDate):
        return "date", value.iso()
    kind = {str: "string", bool: "boolean", int: "number", float: "number"}[type(value)]
    return kind, js_string(value)


@pytest.mark.parametrize(("scalar", "kind", "text"), JS_YAML, ids=[row[0] for row in JS_YAML])
def test_plain_scalar_reads_as_js_yaml_reads_it(scalar, kind, text):
    loaded = yaml.load(f"v: {scalar}", Loader=ServerlessYamlLoader)["v"]
    assert _as_javascript(loaded) == (kind, text)


@pytest.mark.parametrize("scalar", ["01234", "1:30", "true", "null", "2024-01-01", "1e21"])
def test_quoted_scalars_stay_strings(scalar):
    for quoted in (f"'{scalar}'", f'"{scalar}"'):
        assert yaml.load(f"v: {quoted}", Loader=ServerlessYamlLoader)["v"] == scalar


def test_timestamp_is_refused_for_text_that_is_not_one():
    with pytest.raises(ValueError, match="not a YAML timestamp"):
        construct_timestamp("2024-1-1")
