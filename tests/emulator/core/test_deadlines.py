import pytest

from emulator.core.deadlines import IntegrationTimeouts, InvalidTimeout


def test_the_default_is_aws_29_seconds_and_routes_may_override_it():
    timeouts = IntegrationTimeouts()
    assert timeouts.for_route("POST /reports") == 29.0
    timeouts.set_route("POST /reports", 5)
    assert timeouts.for_route("POST /reports") == 5.0
    assert timeouts.for_route("GET /other") == 29.0
    timeouts.set_default(10)
    assert timeouts.for_route("GET /other") == 10.0
    timeouts.set_route("POST /reports", None)
    assert timeouts.for_route("POST /reports") == 10.0


def test_describe_says_where_each_value_comes_from():
    timeouts = IntegrationTimeouts(29, {"POST /a": 3})
    described = timeouts.describe(["POST /a", "GET /b"])
    assert described["routes"]["POST /a"] == {"integrationTimeout": 3.0, "source": "route"}
    assert described["routes"]["GET /b"] == {"integrationTimeout": 29.0, "source": "default"}


@pytest.mark.parametrize("value", [0, 0.01, -1, 901, "29", True, None])
def test_out_of_range_or_wrongly_typed_timeouts_are_refused(value):
    with pytest.raises(InvalidTimeout):
        IntegrationTimeouts().set_default(value)
