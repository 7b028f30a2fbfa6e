import pytest

from emulator.core.routing import RestRoute, RestRouter, normalize_resource


def router(*routes: tuple[str, str]) -> RestRouter:
    return RestRouter("dev", [RestRoute(m, normalize_resource(p), "fn") for m, p in routes])


def test_stage_prefix_is_stripped_and_other_stages_are_outside():
    r = router(("POST", "reports"))
    assert r.strip_stage("/dev/reports") == "/reports"
    assert r.strip_stage("/dev") == "/"
    assert r.strip_stage("/prod/reports") is None
    assert r.strip_stage("/devreports") is None


def test_method_and_path_must_both_match():
    r = router(("POST", "/reports"))
    assert r.match("POST", "/reports").route.key == "POST /reports"
    assert r.match("POST", "/reports/") is not None
    assert r.match("GET", "/reports") is None
    assert r.match("POST", "/reports/x") is None


def test_literal_beats_parameter_beats_greedy():
    r = router(("GET", "/jobs/latest"), ("GET", "/jobs/{jobId}"), ("ANY", "/{proxy+}"))
    assert r.match("GET", "/jobs/latest").route.resource == "/jobs/latest"
    found = r.match("GET", "/jobs/abc")
    assert found.route.resource == "/jobs/{jobId}"
    assert found.path_parameters == {"jobId": "abc"}
    greedy = r.match("DELETE", "/a/b/c")
    assert greedy.route.resource == "/{proxy+}"
    assert greedy.path_parameters == {"proxy": "a/b/c"}


def test_specific_method_beats_any_on_the_same_resource():
    r = RestRouter("dev", [RestRoute("ANY", "/r", "any"), RestRoute("GET", "/r", "get")])
    assert r.match("GET", "/r").route.function == "get"
    assert r.match("PUT", "/r").route.function == "any"


def test_duplicate_routes_and_misplaced_greedy_parameters_are_refused():
    with pytest.raises(ValueError, match="declared twice"):
        router(("POST", "/a"), ("POST", "a/"))
    with pytest.raises(ValueError, match="greedy"):
        router(("GET", "/{proxy+}/x"))
