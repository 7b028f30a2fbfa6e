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


def test_encoded_characters_stay_inside_their_segment():
    r = router(("GET", "/items/{id}"), ("GET", "/files/{proxy+}"))
    assert r.match("GET", "/items/my-id%2F100").path_parameters == {"id": "my-id%2F100"}
    assert r.match("GET", "/items/a%20b").path_parameters == {"id": "a%20b"}
    assert r.match("GET", "/items/caf%C3%A9").path_parameters == {"id": "caf%C3%A9"}
    assert r.match("GET", "/files/a%2Fb/c").path_parameters == {"proxy": "a%2Fb/c"}


def test_the_resource_of_a_path_whatever_its_methods():
    r = router(("GET", "/items/{id}"), ("POST", "/items/special"), ("OPTIONS", "/items/special"))
    assert r.resource_for("/items/special") == "/items/special"
    assert r.resource_for("/items/42") == "/items/{id}"
    assert r.resource_for("/nothing") is None
    assert r.has_method("/items/special", "OPTIONS")
    assert not r.has_method("/items/{id}", "OPTIONS")
