import pytest

from emulator.service.js_text import js_string


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("text", "text"),
        (True, "true"),
        (False, "false"),
        (8080, "8080"),
        (1.0, "1"),
        (1.5, "1.5"),
        (-2.5, "-2.5"),
        (0.1, "0.1"),
        (0.0, "0"),
        (1e-5, "0.00001"),
        (1e-7, "1e-7"),
        (1e16, "10000000000000000"),
        (1e21, "1e+21"),
        (1.5e22, "1.5e+22"),
        (float("inf"), "Infinity"),
        (float("nan"), "NaN"),
    ],
)
def test_scalars_are_written_as_javascript_string_writes_them(value, written):
    assert js_string(value) == written


@pytest.mark.parametrize("value", [None, {"a": 1}, ["a"]])
def test_null_mappings_and_lists_have_no_string_form(value):
    assert js_string(value) is None
