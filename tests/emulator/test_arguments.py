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


def test_a_service_directory_stands_for_its_service_file(tmp_path):
    from emulator.arguments import service_file

    assert service_file(str(tmp_path / "a.yml")) == tmp_path / "a.yml"  # a file, as given
    (tmp_path / "serverless.yaml").write_text("service: x\n")
    assert service_file(str(tmp_path)) == tmp_path / "serverless.yaml"
    (tmp_path / "serverless.yml").write_text("service: x\n")
    assert service_file(str(tmp_path)) == tmp_path / "serverless.yml"  # .yml first
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        service_file(str(empty))
    assert f"directory {empty} has no serverless.yml, serverless.yaml" in str(refused.value)
