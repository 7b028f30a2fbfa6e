import dataclasses
from datetime import date

import pytest

from scenarios.pricing import (
    PRICED,
    Bill,
    PricingError,
    Usage,
    load_prices,
    price,
)

# The published us-east-1 rates, written out here so the test checks the data file, not itself.
REST_PER_REQUEST = 3.50 / 1e6
HTTP_API_PER_REQUEST = 1.00 / 1e6
WS_PER_MESSAGE = 1.00 / 1e6
WS_PER_MINUTE = 0.25 / 1e6
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_S = 0.0000166667
DDB_PER_WRITE_UNIT = 0.625 / 1e6
DDB_PER_READ_UNIT = 0.125 / 1e6
S3_PER_TIER1 = 0.005 / 1000
S3_PER_TIER2 = 0.0004 / 1000


def test_the_bundled_rates_load_each_with_a_unit_a_source_and_a_date():
    prices = load_prices()
    assert prices.region == "us-east-1"
    date.fromisoformat(prices.checked)
    assert set(prices.sources) == set(PRICED)
    for name in PRICED:
        quote = prices.sources[name]
        assert quote.source.startswith("https://aws.amazon.com/"), name
        assert quote.unit, name
        date.fromisoformat(quote.checked)
        assert getattr(prices, name) == pytest.approx(quote.usd / quote.per)
    assert prices.as_dict()["rates"]["rest_api_requests"]["usd"] == 3.50


def test_the_bundled_rates_are_the_published_ones():
    prices = load_prices()
    assert prices.rest_api_requests == pytest.approx(REST_PER_REQUEST)
    assert prices.http_api_requests == pytest.approx(HTTP_API_PER_REQUEST)
    assert prices.websocket_message_units == pytest.approx(WS_PER_MESSAGE)
    assert prices.websocket_connection_minutes == pytest.approx(WS_PER_MINUTE)
    assert prices.lambda_requests == pytest.approx(LAMBDA_PER_REQUEST)
    assert prices.lambda_gb_seconds == pytest.approx(LAMBDA_PER_GB_S)
    assert prices.dynamodb_write_units == pytest.approx(DDB_PER_WRITE_UNIT)
    assert prices.dynamodb_read_units == pytest.approx(DDB_PER_READ_UNIT)
    assert prices.s3_tier1_requests == pytest.approx(S3_PER_TIER1)
    assert prices.s3_tier2_requests == pytest.approx(S3_PER_TIER2)


def test_a_known_usage_costs_the_published_dollars():
    usage = Usage(
        rest_api_requests=1_000_000,  # $3.50
        http_api_requests=2_000_000,  # $2.00
        websocket_message_units=3_000_000,  # $3.00
        websocket_connection_minutes=2_000_000,  # $0.50
        lambda_requests=1_000_000,  # $0.20
        lambda_gb_seconds=1,  # $0.0000166667
        lambda_wasted_gb_seconds=0.5,  # inside the line above, not added
        dynamodb_read_units=8_000_000,  # $1.00
        dynamodb_write_units=4_000_000,  # $2.50
        s3_tier1_requests=1000,  # $0.005
        s3_tier2_requests=10_000,  # $0.004
    )
    bill = price(usage, load_prices())
    assert bill.items == pytest.approx(
        {
            "rest_api_requests": 3.50,
            "http_api_requests": 2.00,
            "websocket_message_units": 3.00,
            "websocket_connection_minutes": 0.50,
            "lambda_requests": 0.20,
            "lambda_gb_seconds": 0.0000166667,
            "dynamodb_read_units": 1.00,
            "dynamodb_write_units": 2.50,
            "s3_tier1_requests": 0.005,
            "s3_tier2_requests": 0.004,
        }
    )
    assert bill.wasted_usd == pytest.approx(0.0000166667 / 2)
    assert bill.total == pytest.approx(
        3.50 + 2.00 + 3.00 + 0.50 + 0.20 + 0.0000166667 + 3.50 + 0.009
    )
    assert bill.as_dict()["total"] == pytest.approx(bill.total)
    assert bill.as_dict()["items"] == bill.items


def test_a_40_second_report_at_128_mb_burns_about_a_tenth_of_a_cent_per_thousand():
    # 40 s at 128 MB = 5 GB-s, of which 11 s (1.375 GB-s) after the 29 s gateway timeout.
    usage = Usage(lambda_requests=1, lambda_gb_seconds=5.0, lambda_wasted_gb_seconds=1.375)
    bill = price(usage, load_prices())
    assert bill.total == pytest.approx(LAMBDA_PER_REQUEST + 5 * LAMBDA_PER_GB_S)
    assert bill.wasted_usd == pytest.approx(1.375 * LAMBDA_PER_GB_S)


def test_per_million_reports():
    bill = Bill(items={"rest_api_requests": 0.35, "lambda_requests": 0.05}, wasted_usd=0.0)
    assert bill.per_million(100_000) == pytest.approx(4.0)
    assert bill.per_million(0) == 0


def test_usage_adds_and_scales():
    one = Usage(rest_api_requests=1, lambda_gb_seconds=2.5)
    assert one + one == one.scaled(2) == Usage(rest_api_requests=2, lambda_gb_seconds=5.0)
    assert one.as_dict()["lambda_gb_seconds"] == 2.5
    assert set(one.as_dict()) == {f.name for f in dataclasses.fields(Usage)}


def snapshot(
    rest=0, units=6, minutes=0.5, invocations=0, billed_ms=0, wasted_ms=0, gb_s=0.0, http_api=0
):
    return {
        "rest": {"requests": rest, "routes": {}},
        "http_api": {"requests": http_api, "routes": {}},
        "websocket": {
            "connection_minutes": minutes,
            "messages_in": 2,
            "messages_out": 4,
            "message_units": units,
        },
        "lambda": {
            "functions": {
                "report": {
                    "invocations": invocations,
                    "billed_ms": billed_ms,
                    "wasted_ms": wasted_ms,
                    "gb_seconds": gb_s,
                }
            }
        },
        "backend": {
            "s3": {"tier1_requests": invocations, "tier2_requests": 1, "free_requests": 0},
            "dynamodb": {"read_request_units": 1.5, "write_request_units": 3.0},
        },
    }


def test_from_metrics_is_the_difference_of_two_snapshots_with_the_wasted_share():
    before = snapshot(
        rest=1, units=2, minutes=0.25, invocations=1, billed_ms=5000, gb_s=5.0, http_api=4
    )
    after = snapshot(
        rest=3, units=8, minutes=1.0, invocations=3, billed_ms=85_000, wasted_ms=22_000, gb_s=85.0,
        http_api=9,
    )  # fmt: skip
    after["lambda"]["functions"]["connect"] = {
        "invocations": 4,
        "billed_ms": 400,
        "wasted_ms": 0,
        "gb_seconds": 0.05,
    }
    usage = Usage.from_metrics(after, before)
    # Two 40 s reports (80 GB-s at 1 GB), each wasted 11 s after the gateway's 29 s.
    assert usage.as_dict() == pytest.approx(
        Usage(
            rest_api_requests=2,
            http_api_requests=5,
            websocket_message_units=6,
            websocket_connection_minutes=0.75,
            lambda_requests=2 + 4,
            lambda_gb_seconds=80.0 + 0.05,
            lambda_wasted_gb_seconds=80.0 * 22_000 / 80_000,
            s3_tier1_requests=2,
        ).as_dict()
    )


def test_from_metrics_from_zero_and_from_an_older_snapshot_shape():
    usage = Usage.from_metrics(snapshot(invocations=2, billed_ms=40_000, wasted_ms=11_000, gb_s=40))
    assert usage.lambda_wasted_gb_seconds == pytest.approx(11.0)
    assert usage.dynamodb_read_units == 1.5
    assert usage.dynamodb_write_units == 3.0
    older = {"rest": {"requests": 3}, "websocket": {"messages_in": 2, "messages_out": 4}}
    assert Usage.from_metrics(older) == Usage(rest_api_requests=3, websocket_message_units=6)
    assert Usage.from_metrics({}) == Usage()


def test_an_override_replaces_only_the_rates_it_names(tmp_path):
    path = tmp_path / "arm.toml"
    path.write_text(
        "checked = 2026-01-02\n"
        "[rates.lambda_gb_seconds]  # Arm\n"
        "usd = 0.0000133334\n"
        "[rates.rest_api_requests]\n"
        "usd = 3.0\n"
        'source = "https://example.com/negotiated"\n'
        "checked = 2026-03-04\n"
    )
    bundled, prices = load_prices(), load_prices(path)
    assert prices.lambda_gb_seconds == pytest.approx(0.0000133334)
    assert prices.sources["lambda_gb_seconds"].source == str(path)
    assert prices.sources["lambda_gb_seconds"].checked == "2026-01-02"
    assert prices.sources["lambda_gb_seconds"].unit == "GB-second"
    assert prices.rest_api_requests == pytest.approx(3.0 / 1e6)  # bundled `per` kept
    assert prices.sources["rest_api_requests"].source == "https://example.com/negotiated"
    assert prices.sources["rest_api_requests"].checked == "2026-03-04"
    for name in set(PRICED) - {"lambda_gb_seconds", "rest_api_requests"}:
        assert getattr(prices, name) == getattr(bundled, name)
        assert prices.sources[name] == bundled.sources[name]
    assert load_prices(str(path)) == prices


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[rates.lambda_gb_secs]\nusd = 1\n", "rates.lambda_gb_secs"),
        ('[rates.lambda_requests]\nusd = "cheap"\n', "rates.lambda_requests.usd"),
        ("[rates.lambda_requests]\nusd = -0.2\n", "rates.lambda_requests.usd"),
        ("[rates.lambda_requests]\nusd = true\n", "rates.lambda_requests.usd"),
        ("[rates.lambda_requests]\nusd = nan\n", "rates.lambda_requests.usd"),
        ("[rates.lambda_requests]\nper = 1000\n", "rates.lambda_requests.usd"),
        ("[rates.lambda_requests]\nusd = 0.2\nper = 0\n", "rates.lambda_requests.per"),
        ("[rates.lambda_requests]\nusd = 0.2\ncents = 20\n", "rates.lambda_requests.cents"),
        ("[rates]\nlambda_requests = 0.2\n", "rates.lambda_requests"),
        ('currency = "EUR"\n', "currency"),
        ('regoin = "eu-west-1"\n', "regoin"),
        ('checked = "last week"\n', "checked"),
        ("[rates.lambda_requests\nusd = 0.2\n", "cannot read"),
    ],
)
def test_a_bad_override_names_the_file_and_the_key(tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PricingError) as raised:
        load_prices(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert key in message
    assert "\n" not in message


def test_a_missing_override_is_a_pricing_error(tmp_path):
    with pytest.raises(PricingError, match="cannot read"):
        load_prices(tmp_path / "nowhere.toml")
