"""The report-cost benchmark: a real short run measures CPU and round trips, and its flame
summary reads py-spy's raw output. Figures are printed, never compared with a goal."""

import importlib.util
import sys

from tests.benchmarks import ROOT, first_json_line

SCRIPT = ROOT / "benchmarks" / "report_cost.py"


def _module():
    spec = importlib.util.spec_from_file_location("report_cost", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_short_run_measures_round_trips_and_the_server_cpu_they_cost():
    figures, output = first_json_line(
        str(SCRIPT), "--code", str(ROOT), "--clients", "1", "--round-trips", "3"
    )
    assert (figures["clients"], figures["round_trips"]) == (1, 3)
    assert figures["round_trips_per_s"] > 0
    # Every part worked: the gateway, the handlers' environments and moto.
    assert all(figures["cpu_ms_by_part"][part] > 0 for part in ("emulator", "backend"))
    assert figures["cpu_ms_per_round_trip"] >= sum(figures["cpu_ms_by_part"].values()) - 0.5
    assert "medians:" in output


def test_the_flame_summary_shares_samples_by_part_and_frame(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text(
        'process 1:"python -m emulator.cli up";<module> (cli.py:1);'
        "handle (/x/site-packages/aiohttp/web_protocol.py:10);write (asyncio/streams.py:3) 6\n"
        'process 1:"python -m emulator.cli up";process 2:"python -m emulator.backends.moto_serve"'
        ";dispatch (/x/site-packages/moto/core/responses.py:5) 3\n"
        'process 1:"python -m emulator.cli up";process 3:"python -m timeoutlab_bootstrap a.b"'
        ";run (/x/site-packages/awslambdaric/bootstrap.py:7) 1\n"
    )
    summary = _module().flame_summary(raw, top=5)
    assert summary.splitlines() == [
        "  emulator: 60 % of 10 samples",
        "     60.0 %  handle (aiohttp/web_protocol.py)",
        "     60.0 %  write (asyncio/streams.py)",
        "  backend: 30 % of 10 samples",
        "     30.0 %  dispatch (moto/core/responses.py)",
        "  environments: 10 % of 10 samples",
        "     10.0 %  run (awslambdaric/bootstrap.py)",
    ]
