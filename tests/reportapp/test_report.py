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


class FakeTime:
    """``time`` as lambda_time uses it, on a clock that moves only when slept on."""

    def __init__(self, epoch: float = 1_700_000_000.0) -> None:
        self.epoch = epoch
        self.elapsed = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.epoch + self.elapsed

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds


def test_lambda_time_is_real_time_on_aws_and_scaled_under_timeoutlab(monkeypatch):
    clock = FakeTime()
    monkeypatch.setattr(lambda_time, "time", clock)
    monkeypatch.delenv("TIMEOUTLAB_TIME_SCALE", raising=False)
    monkeypatch.delenv("TIMEOUTLAB_EPOCH_ANCHOR", raising=False)
    assert lambda_time.scale() == 1.0
    assert lambda_time.now() == clock.time()
    lambda_time.wait(120)
    assert sum(clock.sleeps) == pytest.approx(0.12, abs=1e-9)  # real time on AWS

    monkeypatch.setenv("TIMEOUTLAB_TIME_SCALE", "0.01")
    monkeypatch.setenv("TIMEOUTLAB_EPOCH_ANCHOR", str(clock.time() - 1))
    assert lambda_time.now() == pytest.approx(clock.time() + 99, abs=1e-6)  # 1 real s = 100
    clock.sleeps.clear()
    lambda_time.wait(5000)  # 5 emulated seconds
    assert sum(clock.sleeps) == pytest.approx(0.05, abs=1e-9)
    # In short real slices, so that a function stopped at its timeout stops promptly.
    assert max(clock.sleeps) <= lambda_time._SLICE_SECONDS


def test_lambda_time_waits_at_least_as_long_as_asked_on_the_real_clock(monkeypatch):
    monkeypatch.setenv("TIMEOUTLAB_TIME_SCALE", "0.01")
    started = time.monotonic()
    lambda_time.wait(5000)  # 5 emulated seconds: 0.05 real ones
    assert time.monotonic() - started >= 0.05  # never early (late is the machine's business)


def test_the_handler_answers_bad_bodies_without_touching_aws():
    answer = report.handler({"body": "{oops"}, None)
    assert answer["statusCode"] == 400
    assert "JSON report definition" in answer["body"]


def test_the_handler_answers_json_nested_too_deep_with_400():
    answer = report.handler({"body": "[" * 1000 + "]" * 1000}, None)
    assert answer["statusCode"] == 400
    assert "JSON report definition" in answer["body"]
