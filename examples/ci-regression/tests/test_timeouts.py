"""What API Gateway does to the order-export service, checked on every push.

The ``timeoutlab_stack`` fixture (from timeoutlab's pytest plugin, enabled by installing
timeoutlab) runs this folder's serverless.yml behind an emulated API Gateway at the time scale of
pytest.ini: 0.05, so each emulated second takes 50 real milliseconds.
"""

import httpx
import pytest

import timeoutlab


def test_the_quote_answers_at_once(timeoutlab_stack):
    response = httpx.get(f"{timeoutlab_stack.rest_url}/quote")

    assert response.status_code == 200
    assert response.json() == {"price": 42}


def test_a_synchronous_export_hits_the_29_second_wall(timeoutlab_stack):
    response = httpx.post(f"{timeoutlab_stack.rest_url}/exports", timeout=None)

    # 504 {"message": "Endpoint request timed out"} at 29 emulated seconds, never earlier.
    timeoutlab.assert_gateway_timeout(response, at_s=29.0)
    # ... while the Lambda ran on to its end: 11 emulated seconds billed for nobody.
    timeoutlab_stack.wait_idle()
    timeoutlab.assert_ran_on(timeoutlab_stack, "exportNow", at_least_s=10.0)


def test_the_websocket_export_pushes_the_result(timeoutlab_stack):
    pushed = timeoutlab.assert_pushed(
        timeoutlab_stack, {"action": "startExport"}, match={"status": "done"}, within_s=60.0
    )

    assert pushed["rows"] == 1000


@pytest.mark.timeoutlab(routes={"POST /exports": 5})
def test_a_route_timeout_of_5_seconds_cuts_the_export_sooner(timeoutlab_stack):
    response = httpx.post(f"{timeoutlab_stack.rest_url}/exports", timeout=None)

    timeoutlab.assert_gateway_timeout(response, at_s=5.0)


def test_the_quote_stays_fast_under_50_users(timeoutlab_stack):
    result = timeoutlab.run_load(
        timeoutlab_stack,
        users=50,
        spawn_rate=25,
        duration_s=5,
        request=timeoutlab.LoadRequest("GET", "/quote"),
    )

    quote = result.route("GET /quote")
    assert quote.failures == 0, result.summary()
    assert quote.p95_s < 29.0, result.summary()
