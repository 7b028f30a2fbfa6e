"""The /_emulator/ API: health, metrics, reset, and changing timeouts without a restart."""

import time

import pytest


def timed_post(client, stack, delay_ms):
    started = time.monotonic()
    response = client.post(f"{stack.rest_url}/reports", json={"delay": delay_ms, "amountOfRows": 1})
    return response.status_code, stack.clock.to_emulated(time.monotonic() - started)


@pytest.fixture
def control(report_stack, client):
    url = f"{report_stack.http_url}/_emulator/config"
    yield url
    client.put(url, json={"integrationTimeout": 29, "routes": {"POST /reports": None}})


def test_health_describes_the_running_system(report_stack, client):
    health = client.get(f"{report_stack.http_url}/_emulator/health").json()
    assert health["status"] == "ok"
    assert health["rest_api"] == report_stack.rest_url
    assert "POST /reports" in health["routes"]
    assert "generateReport" in health["websocket_routes"]
    assert health["backend"]["endpoint"] == report_stack.backend.endpoint_url


def test_the_integration_timeout_changes_at_run_time(report_stack, client, control):
    assert client.get(control).json()["integrationTimeout"] == 29.0
    assert timed_post(client, report_stack, 5000)[0] == 200

    changed = client.put(control, json={"integrationTimeout": 2})
    assert changed.status_code == 200
    assert changed.json()["routes"]["POST /reports"] == {
        "integrationTimeout": 2.0,
        "source": "default",
    }
    status, elapsed = timed_post(client, report_stack, 5000)
    assert status == 504
    assert 2.0 <= elapsed < 2.0 + 1.0


def test_a_route_override_beats_the_default_and_null_removes_it(report_stack, client, control):
    response = client.patch(control, json={"routes": {"POST /reports": 1}})
    assert response.json()["routes"]["POST /reports"]["source"] == "route"
    status, elapsed = timed_post(client, report_stack, 3000)
    assert status == 504
    assert 1.0 <= elapsed < 2.0
    client.patch(control, json={"routes": {"POST /reports": None}})
    assert timed_post(client, report_stack, 3000)[0] == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "body must be JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"integrationTimeout": 0}', "between 0.05 and 900"),
        (b'{"integrationTimeout": "29"}', "must be a number"),
        (b'{"timeout": 3}', "unknown setting(s): timeout"),
        (b'{"routes": {"GET /x": 3}}', "unknown route(s): GET /x"),
        (b'{"routes": []}', "routes must map"),
        (b'{"integrationTimeout": 5, "routes": {"POST /reports": -1}}', "timeout of route"),
    ],
)
def test_bad_settings_get_400_and_change_nothing(report_stack, client, control, body, message):
    response = client.put(control, content=body)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert client.get(control).json()["integrationTimeout"] == 29.0


def test_unknown_emulator_endpoints_list_the_real_ones(report_stack, client):
    response = client.get(f"{report_stack.http_url}/_emulator/nothing")
    assert response.status_code == 404
    assert "/_emulator/health" in response.json()["message"]


def test_reset_zeroes_the_counters(report_stack, client):
    client.get(f"{report_stack.rest_url}/missing")
    assert client.post(f"{report_stack.http_url}/_emulator/reset").json() == {"reset": True}
    assert client.get(f"{report_stack.http_url}/_emulator/metrics").json()["rest"]["requests"] == 0
