"""How the Costs view writes its figures: one rule per kind of number, each with its unit."""

import pytest

from locustfiles import units


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0949, "$3.09"),
        (1234.5, "$1,234.50"),
        (0.0030949, "$0.0031"),
        (0.583, "$0.58"),
        (0.05, "$0.050"),
        (0, "$0"),
        (1e-12, "$0"),
        (None, ""),
    ],
)
def test_dollars_have_cents_from_one_dollar_and_two_significant_digits_below(value, text):
    assert units.usd(value) == text


def test_every_other_figure_carries_its_unit():
    assert units.seconds(5.0234) == "5.02 s"
    assert units.milliseconds(530.4) == "530 ms"
    assert [units.size(b) for b in (700, 1234, 2_500_000)] == ["700 B", "1.2 KB", "2.5 MB"]
    assert units.count(1, "requests") == "1.00 requests"
    assert units.whole(12) == "12"
    assert units.whole(4, "reports") == "4 reports"
    assert {units.seconds(None), units.size(None), units.count(None, "x")} == {""}
