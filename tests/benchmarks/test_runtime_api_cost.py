"""The Runtime API cost benchmark: a real short run against this checkout measures something.
Figures are printed, never compared with a goal."""

from tests.benchmarks import ROOT, first_json_line

SCRIPT = ROOT / "benchmarks" / "runtime_api_cost.py"


def test_a_short_run_measures_the_server_cpu_per_invocation():
    figures, output = first_json_line(str(SCRIPT), "--code", str(ROOT), "--invocations", "20")
    assert (figures["code"], figures["invocations"]) == (str(ROOT.resolve()), 20)
    assert figures["cpu_us_per_invocation"] > 0
    assert "medians:" in output
