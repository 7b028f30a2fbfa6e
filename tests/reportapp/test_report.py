"""The report Lambda's own rules, imported the way AWS imports it (from the package root)."""

import csv
import io
import time

import pytest

import lambda_time
import report


def test_valid_definitions_give_delay_and_rows():
    assert report.validate_definition({"delay": 0, "amountOfRows": 1}) == (0, 1)
    assert report.validate_definition({"delay": 900_000, "amountOfRows": 1_000_000}) == (
        900_000,
        1_000_000,
    )


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ("x", "must be a JSON object"),
        ({}, "'delay' is required"),
        ({"delay": None, "amountOfRows": 1}, "'delay' is required"),
        ({"delay": 1.0, "amountOfRows": 1}, "'delay' must be an integer, got 1.0"),
        ({"delay": False, "amountOfRows": 1}, "'delay' must be an integer, got false"),
        ({"delay": 0, "amountOfRows": "3"}, "'amountOfRows' must be an integer"),
        ({"delay": 0, "amountOfRows": -5}, "between 1 and 1000000, got -5"),
        ({"delay": 0, "amountOfRows": 1, "x": 1, "a": 2}, "unknown field(s): a, x"),
    ],
)
def test_invalid_definitions_say_what_is_wrong(definition, message):
    with pytest.raises(
        report.InvalidDefinition, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        report.validate_definition(definition)


def test_the_csv_has_a_header_and_exactly_the_rows_asked_for():
    rows = list(csv.reader(io.StringIO(report.render_csv(250).decode())))
    assert rows[0] == list(report.CSV_HEADER)
    assert len(rows) == 251
    assert [r[0] for r in rows[1:4]] == ["1", "2", "3"]


def test_lambda_time_is_real_time_on_aws_and_scaled_under_timeoutlab(monkeypatch):
    monkeypatch.delenv("TIMEOUTLAB_TIME_SCALE", raising=False)
    monkeypatch.delenv("TIMEOUTLAB_EPOCH_ANCHOR", raising=False)
    assert lambda_time.scale() == 1.0
    assert lambda_time.now() == pytest.approx(time.time(), abs=1)

    monkeypatch.setenv("TIMEOUTLAB_TIME_SCALE", "0.01")
    monkeypatch.setenv("TIMEOUTLAB_EPOCH_ANCHOR", str(time.time() - 1))
    assert lambda_time.now() == pytest.approx(time.time() + 99, abs=2)  # 1 real s = 100 emulated
    started = time.monotonic()
    lambda_time.wait(5000)  # 5 emulated seconds
    assert time.monotonic() - started == pytest.approx(0.05, abs=0.04)


def test_the_handler_answers_bad_bodies_without_touching_aws():
    answer = report.handler({"body": "{oops"}, None)
    assert answer["statusCode"] == 400
    assert "JSON report definition" in answer["body"]
