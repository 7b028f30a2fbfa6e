import pytest

from emulator.core.json_input import InvalidJson, parse_json


def test_json_is_parsed_from_text_or_bytes():
    assert parse_json('{"a": [1, 2]}') == {"a": [1, 2]}
    assert parse_json(b'"x"') == "x"


@pytest.mark.parametrize(
    "text",
    [
        "[" * 1000 + "]" * 1000,  # past the recursion limit: RecursionError inside json
        '{"a":' * 5000 + "1" + "}" * 5000,
        "{not json",
        b"\xff\xfe\x00",
        "",
    ],
)
def test_anything_unparseable_is_invalid_json_in_one_line(text):
    with pytest.raises(InvalidJson) as refused:
        parse_json(text)
    assert "\n" not in str(refused.value)


def test_nesting_that_python_parses_is_still_json():
    assert parse_json("[" * 100 + "]" * 100) == eval("[" * 100 + "]" * 100)
