"""The /_emulator/ API: health, metrics, reset, and changing timeouts without a restart.

Timeouts changed at run time are asserted exactly, on a virtual clock with in-loop handlers
(tests/virtual.py); only the health check, which describes the backend, needs the real stack.
"""

import asyncio
import json

import aiohttp
import pytest

from tests.virtual import run_virtual, service_file, virtual_stack

EXACT = 1e-6  # the virtual clock's resolution: float rounding, not a tolerance for lateness

FUNCTIONS = """
report:
  handler: app.report
  timeout: 900
  events: [{http: POST reports}]
"""


async def report(event, context):
    """The article's report, in emulated time: wait ``delay`` ms, then answer."""
    await context.sleep(json.loads(event["body"])["delay"] / 1000)
    return {"statusCode": 200, "body": json.dumps({"url": "https://example/report.csv"})}


class Client:
    """An aiohttp session on the test's loop, for one virtual stack's REST and control APIs."""

    def __init__(self, stack, http: aiohttp.ClientSession) -> None:
        self.stack = stack
        self.http = http
        self.config_url = f"{stack.http_url}/_emulator/config"

    async def post(self, delay_ms: int) -> tuple[int, float]:
        """POST /reports; its status and how long it took, in emulated seconds."""
        started = self.stack.clock.now()
        definition = {"delay": delay_ms, "amountOfRows": 1}
        async with self.http.post(f"{self.stack.rest_url}/reports", json=definition) as response:
            await response.read()
        return response.status, self.stack.clock.now() - started

    async def call(self, method: str, url: str, **kwargs) -> tuple[int, dict]:
        async with self.http.request(method, url, **kwargs) as response:
            return response.status, await response.json()


def run(tmp_path, scenario):
    path = service_file(tmp_path, FUNCTIONS)

    async def main():
        async with (
            virtual_stack(path, {"report": report}) as stack,
            aiohttp.ClientSession() as http,
        ):
            return await scenario(Client(stack, http))

    return run_virtual(main)


def test_health_describes_the_running_system(report_stack, client):
    health = client.get(f"{report_stack.http_url}/_emulator/health").json()
    assert health["status"] == "ok"
    assert health["rest_api"] == report_stack.rest_url
    assert "POST /reports" in health["routes"]
    assert "generateReport" in health["websocket_routes"]
    assert health["backend"]["endpoint"] == report_stack.backend.endpoint_url


def test_the_integration_timeout_changes_at_run_time(tmp_path):
    async def scenario(c):
        before = await c.call("GET", c.config_url)
        first = await c.post(5000)
        changed = await c.call("PUT", c.config_url, json={"integrationTimeout": 2})
        second = await c.post(5000)
        return before, first, changed, second

    (_, before), first, (status, changed), second = run(tmp_path, scenario)
    assert before["integrationTimeout"] == 29.0
    assert first[0] == 200
    assert first[1] == pytest.approx(5.0, abs=EXACT)
    assert status == 200
    assert changed["routes"]["POST /reports"] == {"integrationTimeout": 2.0, "source": "default"}
    assert second[0] == 504
    assert second[1] == pytest.approx(2.0, abs=EXACT)


def test_a_route_override_beats_the_default_and_null_removes_it(tmp_path):
    async def scenario(c):
        _, overridden = await c.call("PATCH", c.config_url, json={"routes": {"POST /reports": 1}})
        cut = await c.post(3000)
        _, removed = await c.call("PATCH", c.config_url, json={"routes": {"POST /reports": None}})
        served = await c.post(3000)
        return overridden, cut, removed, served

    overridden, cut, removed, served = run(tmp_path, scenario)
    assert overridden["routes"]["POST /reports"] == {"integrationTimeout": 1.0, "source": "route"}
    assert cut[0] == 504
    assert cut[1] == pytest.approx(1.0, abs=EXACT)
    assert removed["routes"]["POST /reports"] == {"integrationTimeout": 29.0, "source": "default"}
    assert served[0] == 200
    assert served[1] == pytest.approx(3.0, abs=EXACT)


def test_a_new_timeout_applies_to_requests_that_start_after_it(tmp_path):
    """A request already waiting keeps the timeout it started with, as a deployment on AWS
    changes the integration for the requests that come after it."""

    async def scenario(c):
        waiting = asyncio.ensure_future(c.post(10_000))
        await asyncio.sleep(1)
        await c.call("PUT", c.config_url, json={"integrationTimeout": 5})
        return await waiting, await c.post(10_000)

    waiting, after = run(tmp_path, scenario)
    assert waiting[0] == 200
    assert waiting[1] == pytest.approx(10.0, abs=EXACT)
    assert after[0] == 504
    assert after[1] == pytest.approx(5.0, abs=EXACT)


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
def test_bad_settings_get_400_and_change_nothing(tmp_path, body, message):
    async def scenario(c):
        refused = await c.call("PUT", c.config_url, data=body)
        _, config = await c.call("GET", c.config_url)
        return refused, config, await c.post(28_000)

    (status, answer), config, served = run(tmp_path, scenario)
    assert status == 400
    assert message in answer["message"]
    assert config["integrationTimeout"] == 29.0
    assert config["routes"]["POST /reports"]["source"] == "default"
    assert served[0] == 200  # still 29 s


def test_unknown_emulator_endpoints_list_the_real_ones(tmp_path):
    async def scenario(c):
        return await c.call("GET", f"{c.stack.http_url}/_emulator/nothing")

    status, answer = run(tmp_path, scenario)
    assert status == 404
    assert "/_emulator/health" in answer["message"]


def test_reset_zeroes_the_counters(tmp_path):
    async def scenario(c):
        await c.call("GET", f"{c.stack.rest_url}/missing")
        counted = await c.call("GET", f"{c.stack.http_url}/_emulator/metrics")
        reset = await c.call("POST", f"{c.stack.http_url}/_emulator/reset")
        return counted, reset, await c.call("GET", f"{c.stack.http_url}/_emulator/metrics")

    (_, counted), (_, reset), (_, after) = run(tmp_path, scenario)
    assert counted["rest"]["requests"] == 1
    assert reset == {"reset": True}
    assert after["rest"]["requests"] == 0
