"""``MetricsSnapshot.parse``: tolerant of what it does not know, frozen, read-only. (A real
snapshot after real requests is parsed in ``test_stack``.)"""

from __future__ import annotations

import dataclasses

import pytest

from timeoutlab import FunctionMetrics, MetricsSnapshot


def test_missing_parts_are_zero_and_unknown_keys_are_kept_in_raw() -> None:
    snapshot = MetricsSnapshot.parse({"future_section": {"x": 1}, "rest": {"new_figure": 3}})
    assert snapshot.rest.requests == 0
    assert snapshot.rest.raw == {"new_figure": 3}
    assert snapshot.raw["future_section"] == {"x": 1}
    assert snapshot.functions == {}
    assert snapshot.precision.lateness_median_s is None
    assert snapshot.clock.time_scale == 1.0


def test_figures_are_typed_and_read_only() -> None:
    snapshot = MetricsSnapshot.parse(
        {
            "rest": {"routes": {"GET /a": {"requests": 2, "status_counts": {"200": 1, "504": 1}}}},
            "websocket": {"connections_closed": {"1000": 2}, "route_invocations": {"push": 4}},
            "lambda": {"functions": {"svc-dev-a": {"wasted_ms": 1500, "outcomes": {"success": 1}},
                                     "svc-dev-ab": {"invocations": 1}}},
            "backend": {"s3": {"operations": {"PutObject": 1}, "tier1_requests": 1}},
        }
    )  # fmt: skip
    assert snapshot.rest.routes["GET /a"].status_counts == {200: 1, 504: 1}
    assert snapshot.websocket.connections_closed == {1000: 2}
    assert snapshot.websocket.route_invocations == {"push": 4}
    assert snapshot.backend.s3_tier1_requests == 1
    # By deployed name, or by the functions: key when one deployed name ends with it.
    assert snapshot.function("a").wasted_s == 1.5
    assert snapshot.function("ab").invocations == 1
    assert snapshot.function("svc-dev-a") is snapshot.functions["svc-dev-a"]
    assert snapshot.function("nothing") == FunctionMetrics()
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.rest = snapshot.http_api  # type: ignore[misc]
    with pytest.raises(TypeError):
        snapshot.functions["x"] = FunctionMetrics()  # type: ignore[index]
