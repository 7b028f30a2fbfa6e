"""The /_emulator/ API: health, metrics, reset, and changing timeouts without a restart.

Timeouts changed at run time are asserted exactly, on a virtual clock with in-loop handlers
(tests/virtual.py); only the health check, which describes the backend, needs the real stack.
"""

import asyncio
import json

import aiohttp
import pytest

from emulator.stack import StackConfig
from tests.virtual import run_virtual, run_with_http, service_file, virtual_stack

JSON_TYPE = {"Content-Type": "application/json"}
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


def run(tmp_path, scenario, config: StackConfig | None = None):
    path = service_file(tmp_path, FUNCTIONS)

    async def with_client(stack, http):
        return await scenario(Client(stack, http))

    return run_with_http(path, {"report": report}, with_client, config=config)


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
        refused = await c.call("PUT", c.config_url, data=body, headers=JSON_TYPE)
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


# -- who may call: Origin, Host, media type, token (emulator.core.control_access) -----------------

FOREIGN = "https://evil.example"


def test_the_cross_site_text_plain_post_is_refused_and_changes_nothing(tmp_path):
    """The attack of issue 14: a page on another site POSTs text/plain (a "simple" request, sent
    without a CORS preflight) to the config and to reset."""

    async def scenario(c):
        await c.call("GET", f"{c.stack.rest_url}/missing")  # one request counted
        attack = {"Origin": FOREIGN, "Content-Type": "text/plain"}
        config = await c.call(
            "POST", c.config_url, data='{"integrationTimeout": 1}', headers=attack
        )
        reset = await c.call("POST", f"{c.stack.http_url}/_emulator/reset", headers=attack)
        _, after = await c.call("GET", c.config_url)
        _, metrics = await c.call("GET", f"{c.stack.http_url}/_emulator/metrics")
        return config, reset, after, metrics

    config, reset, after, metrics = run(tmp_path, scenario)
    assert config == (403, {"message": "cross-origin request refused"})
    assert reset == (403, {"message": "cross-origin request refused"})
    assert after["integrationTimeout"] == 29.0
    assert metrics["rest"]["requests"] == 1  # not reset


def test_own_origins_and_requests_without_origin_may_change_it(tmp_path):
    async def scenario(c):
        stack = c.stack
        own = [
            f"http://127.0.0.1:{stack.http_port}",
            f"http://localhost:{stack.ws_port}",
            f"https://[::1]:{stack.http_port}",
            f"http://lab.internal:{stack.http_port}",  # an --allowed-host is an own name
            "http://ui.example:8080",  # an --allowed-origin
        ]
        answers = [
            (await c.call("PUT", c.config_url, json={"integrationTimeout": 10 + n},
                          headers={"Origin": origin}))[0]
            for n, origin in enumerate(own)
        ]  # fmt: skip
        wrong_port = await c.call(
            "PUT", c.config_url, json={"integrationTimeout": 2},
            headers={"Origin": f"http://127.0.0.1:{stack.http_port + 1}"},
        )  # fmt: skip
        null = await c.call(
            "PUT", c.config_url, json={"integrationTimeout": 2}, headers={"Origin": "null"}
        )
        no_origin = await c.call("PUT", c.config_url, json={"integrationTimeout": 7})
        bodyless_reset = await c.call("POST", f"{stack.http_url}/_emulator/reset")
        return answers, wrong_port[0], null[0], no_origin, bodyless_reset

    config = StackConfig(
        allowed_hosts=("lab.internal",), allowed_origins=("http://ui.example:8080",)
    )
    answers, wrong_port, null, no_origin, bodyless_reset = run(tmp_path, scenario, config)
    assert answers == [200] * 5
    assert (wrong_port, null) == (403, 403)
    assert no_origin[0] == 200
    assert no_origin[1]["integrationTimeout"] == 7.0
    assert bodyless_reset == (200, {"reset": True})


def test_a_host_the_emulator_does_not_answer_to_is_refused_on_the_control_plane_only(tmp_path):
    """DNS rebinding: a page at evil.example, its name re-pointed at 127.0.0.1, reads and writes
    with Host: evil.example. The control plane refuses it; the APIs answer any Host, as users call
    them by many names (see the README's Security section)."""

    async def scenario(c):
        stack = c.stack
        health = f"{stack.http_url}/_emulator/health"
        rebound = await c.call("GET", health, headers={"Host": f"evil.example:{stack.http_port}"})
        config = await c.call(
            "PUT", c.config_url, json={"integrationTimeout": 1}, headers={"Host": "evil.example"}
        )
        allowed = [
            (await c.call("GET", health, headers={"Host": host}))[0]
            for host in ("localhost:1", "10.1.2.3", "[::1]:9", "emulator", "EMULATOR.", "lab")
        ]
        api = await c.post(0)  # Host: 127.0.0.1, as ever
        async with c.http.post(
            f"{stack.rest_url}/reports", json={"delay": 0}, headers={"Host": "evil.example"}
        ) as response:
            api_any_host = response.status
        return rebound, config, allowed, api[0], api_any_host

    config = StackConfig(callback_host="emulator", allowed_hosts=("lab",))
    rebound, config_answer, allowed, api, api_any_host = run(tmp_path, scenario, config)
    assert rebound[0] == 403
    assert "'evil.example'" in rebound[1]["message"]
    assert "--allowed-host" in rebound[1]["message"]
    assert config_answer[0] == 403
    assert allowed == [200] * 6
    assert (api, api_any_host) == (200, 200)


def test_a_mutating_body_that_is_not_json_gets_415_and_changes_nothing(tmp_path):
    async def scenario(c):
        plain = await c.call(
            "PUT", c.config_url, data=b'{"integrationTimeout": 1}',
            headers={"Content-Type": "text/plain"},
        )  # fmt: skip
        form = await c.call("POST", c.config_url, data={"integrationTimeout": "1"})
        charset = await c.call(
            "PUT", c.config_url, data=b'{"integrationTimeout": 3}',
            headers={"Content-Type": "Application/JSON; charset=utf-8"},
        )  # fmt: skip
        return plain, form, charset

    plain, form, charset = run(tmp_path, scenario)
    assert plain[0] == 415
    assert "application/json" in plain[1]["message"]
    assert "text/plain" in plain[1]["message"]
    assert form[0] == 415
    assert charset[0] == 200
    assert charset[1]["integrationTimeout"] == 3.0  # the 415s changed nothing before it


def test_a_control_token_guards_everything_but_health_and_the_ui(tmp_path):
    async def scenario(c):
        base = f"{c.stack.http_url}/_emulator"
        answers = {}
        for name, method, path, headers in [
            ("no token", "GET", "/config", {}),
            ("wrong token", "GET", "/config", {"Authorization": "Bearer s3cret-not"}),
            ("basic", "GET", "/config", {"Authorization": "Basic czNjcmV0"}),
            ("reset without", "POST", "/reset", {}),
            ("metrics without", "GET", "/metrics", {}),
            ("token", "GET", "/config", {"Authorization": "Bearer s3cret"}),
            ("reset with", "POST", "/reset", {"Authorization": "bearer s3cret"}),
            ("health", "GET", "/health", {}),
            ("ui", "GET", "/ui/", {}),
        ]:
            async with c.http.request(method, base + path, headers=headers) as response:
                answers[name] = response.status, response.headers.get("WWW-Authenticate")
        return answers

    answers = run(tmp_path, scenario, StackConfig(control_token="s3cret"))
    for refused in ("no token", "wrong token", "basic", "reset without", "metrics without"):
        assert answers[refused] == (401, "Bearer"), refused
    assert answers["token"][0] == 200
    assert answers["reset with"][0] == 200
    assert answers["health"][0] == 200
    assert answers["ui"][0] == 200  # the page is open; it asks for the token itself


def test_health_open_with_a_token_does_not_hand_out_api_key_values(tmp_path):
    path = service_file(
        tmp_path,
        "report:\n  handler: app.report\n  events: [{http: {path: reports, method: post, "
        "private: true}}]",
        provider="apiGateway:\n  apiKeys: [{name: team, value: team-key-0123456789abcdef}]",
    )

    config = StackConfig(control_token="t")

    async def main():
        async with (
            virtual_stack(path, {"report": report}, config=config) as stack,
            aiohttp.ClientSession() as http,
            http.get(f"{stack.http_url}/_emulator/health") as response,
        ):
            return response.status, await response.json()

    status, health = run_virtual(main)
    assert status == 200
    assert [(key["name"], key["value"]) for key in health["api_keys"]] == [("team", None)]
