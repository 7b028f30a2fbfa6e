"""Command-line values shared by the CLIs and the benchmarks."""

import argparse

import pytest

from emulator.arguments import positive, positive_ints


def test_positive_numbers_and_lists_of_them_refuse_zero_negatives_and_words():
    assert positive(int)("3") == 3
    assert positive(float)("0.5") == 0.5
    assert positive_ints("1, 20") == (1, 20)
    for bad in ("0", "-1", "x", "1,0", "1,,2"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_ints(bad)


def test_the_benchmarks_refuse_a_bad_level_before_starting_anything():
    from benchmarks import peers, report_cost

    with pytest.raises(SystemExit) as refused:
        peers.parse_arguments(["--concurrency", "0"])
    assert refused.value.code == 2
    with pytest.raises(SystemExit) as refused:
        report_cost.main(["--round-trips", "0"])
    assert refused.value.code == 2
