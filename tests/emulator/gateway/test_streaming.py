"""REST response streaming: metadata within the integration timeout, then chunks as they come,
cut after the idle timeout or the maximum duration (scaled down here)."""

import time

import httpx
import pytest

from emulator.core.deadlines import StreamLimits
from emulator.stack import StackThread
from tests.support import stack_config, write_service

HANDLERS = """
import time

def steady(event, context):
    yield {"statusCode": 200, "headers": {"Content-Type": "text/plain"}}
    for i in range(3):
        yield f"chunk {i}\\n"
        time.sleep(0.02)

def slow_start(event, context):
    time.sleep(0.3)  # 15 emulated seconds before the metadata
    yield {"statusCode": 200}

def goes_quiet(event, context):
    yield {"statusCode": 200}
    yield "one\\n"
    time.sleep(0.3)  # 15 emulated seconds of silence
    yield "never seen\\n"

def endless(event, context):
    yield {"statusCode": 200}
    for _ in range(100):
        yield "tick\\n"
        time.sleep(0.02)  # a chunk every emulated second, never idle

def plain(event, context):
    return {"statusCode": 201, "body": "not streamed"}

def generator_elsewhere(event, context):
    yield {"statusCode": 200}
"""

FUNCTIONS = """
steady: {handler: app.steady, timeout: 60, events: [{http: GET steady}]}
slowStart: {handler: app.slow_start, timeout: 60, events: [{http: GET slow}]}
goesQuiet: {handler: app.goes_quiet, timeout: 60, events: [{http: GET quiet}]}
endless: {handler: app.endless, timeout: 600, events: [{http: GET endless}]}
plain: {handler: app.plain, events: [{http: GET plain}]}
notStreaming: {handler: app.generator_elsewhere, events: [{http: GET elsewhere}]}
"""

CUSTOM = """
custom:
  timeoutlab:
    integrationTimeout: 5
    streamingRoutes: [GET /steady, GET /slow, GET /quiet, GET /endless, GET /plain]
"""


@pytest.fixture(scope="module")
def stack(moto_server, tmp_path_factory):
    path = write_service(tmp_path_factory.mktemp("streaming"), HANDLERS, FUNCTIONS, extra=CUSTOM)
    limits = StreamLimits(max_duration=20, idle_timeout=5)
    config = stack_config(moto_server.endpoint_url, service_path=path, stream_limits=limits)
    with StackThread(config) as running:
        yield running


def test_chunks_arrive_as_the_handler_yields_them(stack):
    arrivals = []
    with httpx.stream("GET", f"{stack.rest_url}/steady") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain"
        for line in response.iter_lines():
            arrivals.append((time.monotonic(), line))
    assert [line for _, line in arrivals] == ["chunk 0", "chunk 1", "chunk 2"]
    assert arrivals[-1][0] - arrivals[0][0] >= 0.03  # spread out, not buffered


def test_the_integration_timeout_covers_the_time_to_the_metadata(stack):
    response = httpx.get(f"{stack.rest_url}/slow")
    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}


def test_a_stream_that_goes_quiet_past_the_idle_timeout_is_cut(stack):
    received = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("GET", f"{stack.rest_url}/quiet") as response,
    ):
        received.extend(response.iter_lines())
    assert received == ["one"]


def test_a_stream_is_cut_at_its_maximum_duration_even_when_busy(stack):
    started = time.monotonic()
    ticks = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("GET", f"{stack.rest_url}/endless") as response,
    ):
        ticks.extend(response.iter_lines())
    elapsed = stack.clock.to_emulated(time.monotonic() - started)
    assert 20 <= elapsed < 30
    assert 5 < len(ticks) < 30


def test_a_streaming_route_may_answer_without_streaming(stack):
    response = httpx.get(f"{stack.rest_url}/plain")
    assert (response.status_code, response.text) == (201, "not streamed")


def test_a_generator_on_a_route_that_does_not_stream_is_a_502(stack):
    response = httpx.get(f"{stack.rest_url}/elsewhere")
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
