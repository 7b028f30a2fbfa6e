"""serverless.yml parsed as Serverless 3.40 parses it (js-yaml 4.3.2 with its CloudFormation
schema): every expected value here is what that reader gave under Node 20."""

import pytest

from emulator.service import ServiceError
from emulator.service.yaml_reader import read_yaml


def _read(tmp_path, text: str):
    path = tmp_path / "serverless.yml"
    path.write_text(text)
    return read_yaml(path, "serverless.yml")


def test_mapping_keys_are_strings_as_in_a_javascript_object(tmp_path):
    loaded = _read(tmp_path, "m: {1: x, true: y, null: z, 0x1F: w, 1.50: v}")
    assert loaded == {"m": {"1": "x", "31": "w", "true": "y", "null": "z", "1.5": "v"}}


def test_merge_keys_give_way_to_the_mappings_own_keys_and_to_earlier_merges(tmp_path):
    loaded = _read(tmp_path, "base: &b {a: 1, b: 2}\nm:\n  a: 0\n  <<: *b\n  b: 3\n")
    assert loaded["m"] == {"a": 0, "b": 3}
    assert _read(tmp_path, "m:\n  <<: [{a: 1}, {a: 2, c: 3}]\n") == {"m": {"a": 1, "c": 3}}


@pytest.mark.parametrize("text", ["m:\n  a: 1\n  a: 2\n", "m: {1: a, 1.0: b}"])
def test_a_key_given_twice_is_refused_with_its_line(tmp_path, text):
    with pytest.raises(ServiceError) as caught:
        _read(tmp_path, text)
    message = str(caught.value)
    assert "serverless.yml is not valid YAML" in message
    assert "duplicated mapping key" in message
    assert "line 2" in message or "line 1" in message


def test_cloudformation_short_tags(tmp_path):
    loaded = _read(tmp_path, "c: !Condition IsProd\ng: !GetAtt a.b.c\nr: !Ref T\n")
    assert loaded == {
        "c": {"Condition": "IsProd"},
        "g": {"Fn::GetAtt": ["a", "b.c"]},
        "r": {"Ref": "T"},
    }
