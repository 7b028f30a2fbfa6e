"""REST response streaming: metadata within the integration timeout, then chunks as they come,
cut after the idle timeout (5 min) or at the maximum duration (15 min).

AWS's own limits, unscaled: on a virtual clock (tests/virtual.py) a 15-minute stream takes
milliseconds, and every cut is asserted at its exact second. The handlers are async generators
in the loop: the first item is the response's metadata, the rest its body.
"""

import aiohttp
import pytest

from emulator.core.deadlines import StreamLimits
from emulator.stack import StackConfig
from tests.virtual import run_virtual, service_file, virtual_stack

EXACT = 1e-6  # the virtual clock's resolution: float rounding, not a tolerance for lateness
LIMITS = StreamLimits()  # AWS's: 15 minutes per response, 5 minutes without a byte
TICK = 70.0  # seconds between the endless stream's chunks: never idle, and never on 900 s


async def steady(event, context):
    yield {"statusCode": 200, "headers": {"Content-Type": "text/plain"}}
    for i in range(3):
        yield f"chunk {i}\n"
        await context.sleep(1)


async def slow_start(event, context):
    await context.sleep(40)  # past the 29 s before the metadata
    yield {"statusCode": 200}


async def late_but_in_time(event, context):
    await context.sleep(28)  # the metadata just inside 29 s ...
    yield {"statusCode": 200}
    for i in range(4):
        await context.sleep(60)  # ... then a body that takes minutes
        yield f"part {i}\n"


async def goes_quiet(event, context):
    yield {"statusCode": 200}
    yield "one\n"
    await context.sleep(400)  # silent past the 300 s idle timeout
    yield "never seen\n"


async def endless(event, context):
    yield {"statusCode": 200}
    while True:
        yield "tick\n"
        await context.sleep(TICK)


async def plain(event, context):
    return {"statusCode": 201, "body": "not streamed"}


async def generator_elsewhere(event, context):
    yield {"statusCode": 200}


HANDLERS = {
    "steady": steady,
    "slowStart": slow_start,
    "lateButInTime": late_but_in_time,
    "goesQuiet": goes_quiet,
    "endless": endless,
    "plain": plain,
    "notStreaming": generator_elsewhere,
}

FUNCTIONS = """
steady: {handler: app.steady, timeout: 900, events: [{http: GET steady}]}
slowStart: {handler: app.slow_start, timeout: 900, events: [{http: GET slow}]}
lateButInTime: {handler: app.late_but_in_time, timeout: 900, events: [{http: GET late}]}
goesQuiet: {handler: app.goes_quiet, timeout: 900, events: [{http: GET quiet}]}
endless: {handler: app.endless, timeout: 900, events: [{http: GET endless}]}
plain: {handler: app.plain, events: [{http: GET plain}]}
notStreaming: {handler: app.generator_elsewhere, events: [{http: GET elsewhere}]}
"""

CUSTOM = """
custom:
  timeoutlab:
    streamingRoutes: [GET /steady, GET /slow, GET /late, GET /quiet, GET /endless, GET /plain]
"""


class Stream:
    """A response read line by line as it comes: each line with its emulated arrival time, and
    how it ended (``cut`` when the gateway closed the connection mid-body)."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.lines: list[tuple[float, str]] = []
        self.ended_at = 0.0
        self.cut = False
        self.body = b""

    @property
    def text(self) -> list[str]:
        return [line for _, line in self.lines]


async def read(stack, http: aiohttp.ClientSession, path: str) -> Stream:
    stream = Stream()
    started = stack.clock.now()
    async with http.get(f"{stack.rest_url}/{path}") as response:
        stream.status, stream.headers = response.status, dict(response.headers)
        if response.status != 200:
            stream.body = await response.read()
        else:
            try:
                while line := await response.content.readline():
                    stream.lines.append((stack.clock.now() - started, line.decode().rstrip()))
            except aiohttp.ClientPayloadError:
                stream.cut = True
    stream.ended_at = stack.clock.now() - started
    return stream


def run(tmp_path, path: str, limits: StreamLimits = LIMITS) -> tuple[Stream, dict]:
    """GET ``path`` on a fresh virtual stack: the stream, and the metrics once all is done."""
    service = service_file(tmp_path, FUNCTIONS, extra=CUSTOM)
    config = StackConfig(stream_limits=limits)

    async def main():
        # No client-side timeout: the gateway's limits are what is under test.
        timeout = aiohttp.ClientTimeout(total=None)
        async with (
            virtual_stack(service, HANDLERS, config=config) as stack,
            aiohttp.ClientSession(timeout=timeout) as http,
        ):
            stream = await read(stack, http, path)
            # Polled once an emulated second: each poll of a virtual loop costs real time.
            await stack.idle(timeout_s=LIMITS.max_duration, poll_s=1.0)
            return stream, stack.metrics.snapshot()

    return run_virtual(main)


def test_chunks_arrive_as_the_handler_yields_them(tmp_path):
    stream, _ = run(tmp_path, "steady")
    assert stream.status == 200
    assert stream.headers["Content-Type"] == "text/plain"
    assert stream.text == ["chunk 0", "chunk 1", "chunk 2"]
    # Each at the second it was yielded: spread out, not buffered.
    assert [at for at, _ in stream.lines] == pytest.approx([0.0, 1.0, 2.0], abs=EXACT)
    assert stream.ended_at == pytest.approx(3.0, abs=EXACT)
    assert not stream.cut


def test_the_integration_timeout_covers_the_time_to_the_metadata(tmp_path):
    stream, metrics = run(tmp_path, "slow")
    assert stream.status == 504
    assert stream.body == b'{"message":"Endpoint request timed out"}'
    assert stream.ended_at == pytest.approx(29.0, abs=EXACT)
    assert metrics["rest"]["routes"]["GET /slow"]["integration_timeouts"] == 1


def test_metadata_inside_29_s_lets_the_body_stream_for_minutes(tmp_path):
    stream, metrics = run(tmp_path, "late")
    assert stream.status == 200
    assert stream.text == ["part 0", "part 1", "part 2", "part 3"]
    assert [at for at, _ in stream.lines] == pytest.approx([88.0, 148.0, 208.0, 268.0], abs=EXACT)
    assert not stream.cut
    assert metrics["rest"]["routes"]["GET /late"]["integration_timeouts"] == 0


def test_a_stream_that_goes_quiet_past_the_idle_timeout_is_cut_at_it(tmp_path):
    stream, metrics = run(tmp_path, "quiet")
    assert stream.status == 200
    assert stream.text == ["one"]
    assert stream.cut
    assert stream.ended_at == pytest.approx(LIMITS.idle_timeout, abs=EXACT)  # 300 s after "one"
    # The Lambda was not stopped: it ran to 400 s, its last 100 s for no one.
    function = metrics["lambda"]["functions"]["inline-dev-goesQuiet"]
    assert function["outcomes"] == {"success": 1}
    assert function["after_caller_gone_ms"] == pytest.approx(100_000, abs=1e-3)


@pytest.mark.parametrize("maximum", [LIMITS.max_duration, 600.0])
def test_a_stream_is_cut_at_its_maximum_duration_even_when_busy(tmp_path, maximum):
    """At AWS's 15 minutes the Lambda's own 900 s end comes at the same instant; a shorter
    maximum (the limit is configurable) shows the gateway cutting a Lambda that runs on."""
    stream, metrics = run(tmp_path, "endless", StreamLimits(max_duration=maximum))
    assert stream.ended_at == pytest.approx(maximum, abs=EXACT)
    ticks = int(maximum // TICK) + 1  # at 0, 70, 140, ... s
    assert stream.text == ["tick"] * ticks
    assert [at for at, _ in stream.lines] == pytest.approx(
        [i * TICK for i in range(ticks)], abs=EXACT
    )
    if maximum < LIMITS.max_duration:
        assert stream.cut
        function = metrics["lambda"]["functions"]["inline-dev-endless"]
        assert function["outcomes"] == {"timeout": 1}  # it streamed on, to its own 900 s
        assert function["after_caller_gone_ms"] == pytest.approx(300_000, abs=1e-3)


def test_a_streaming_route_may_answer_without_streaming(tmp_path):
    stream, _ = run(tmp_path, "plain")
    assert (stream.status, stream.body) == (201, b"not streamed")


def test_a_generator_on_a_route_that_does_not_stream_is_a_502(tmp_path):
    stream, _ = run(tmp_path, "elsewhere")
    assert stream.status == 502
    assert stream.body == b'{"message":"Internal server error"}'
