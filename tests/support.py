"""Helpers shared by the tests: inline services (starlette-style), time scales, warm handlers."""

from __future__ import annotations

import asyncio
import ssl
import textwrap
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from emulator.clock import ScaledClock
from emulator.metrics import Metrics
from emulator.runtime.process import ProcessRuntime
from emulator.service import load_service
from emulator.stack import StackConfig
from reportclient import STRATEGIES, Endpoints, ReportResult, fetch_report

T = TypeVar("T")

#: Tests play emulated time 50x faster: a 40 s report takes 0.8 s, the 29 s timeout 0.58 s.
TEST_SCALE = 0.02
#: One client at a time against real handlers whose result must beat a deadline by a few emulated
#: seconds (a long poll held 20 s against the 29 s timeout: 9 s, 0.18 s real at TEST_SCALE) runs
#: gentler: here that margin is 0.45 s of real processing, which a busy machine does not eat.
HANDLER_SCALE = 0.05
#: Load tests run gentler still: many users' unscaled processing on two cores must not eat a
#: route's 29 s (2.9 s real here), even on a loaded machine. Six users of every strategy asking
#: for 5 s reports beside two CPU hogs on two cores held a buffered SSE request up to 19 s at
#: 0.05: the handlers' and moto's real time, about 0.7 s, weighed 14 emulated s there, and with
#: more load beside them some requests passed the 29 s and were cut. At 0.1 it took at most 12 s.
LOAD_SCALE = 0.1
#: Reports ``warm_up`` asks for by one strategy before it gives up: a cold handler is cut while it
#: loads, and on a loaded machine (two test workers beside other work) its $connect and its
#: delivery may each be cut once more; a broken stack fails every one.
WARM_UP_ATTEMPTS = 6


def write_service(
    directory: Path,
    handlers: str,
    functions: str,
    *,
    extra: str = "",
    module: str = "app",
    provider: str = "",
) -> Path:
    """A serverless.yml and a handler file, written inline by the test that uses them;
    ``provider`` is more YAML under ``provider:`` (e.g. ``apiGateway: ...``)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{module}.py").write_text(textwrap.dedent(handlers))
    yml = (
        "service: inline\n"
        "provider:\n  name: aws\n  runtime: python3.12\n  stage: dev\n"
        f"{textwrap.indent(textwrap.dedent(provider).strip(), '  ')}\n"
        f"functions:\n{textwrap.indent(textwrap.dedent(functions).strip(), '  ')}\n"
        f"{textwrap.dedent(extra)}"
    )
    path = directory / "serverless.yml"
    path.write_text(yml)
    return path


def stack_config(backend_url: str, **overrides) -> StackConfig:
    """A stack on free ports against the session's moto server, at the test time scale."""
    settings = {
        "http_port": 0,
        "ws_port": 0,
        "http_api_port": 0,
        "backend": backend_url,
        "time_scale": TEST_SCALE,
    }
    settings.update(overrides)
    return StackConfig(**settings)


#: The dummy credentials the tests sign with (the emulator accepts any unless --credentials).
TEST_CREDENTIALS = ("test", "test")


def aws_client(
    service: str, endpoint_url: str, *, credentials: tuple[str, str] = TEST_CREDENTIALS, **config
):
    """A boto3 client for an emulator endpoint, with ``credentials`` (dummy ones by default)
    and no retries."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=credentials[0],
        aws_secret_access_key=credentials[1],
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


def sigv4_headers(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    service: str,
    credentials: tuple[str, str] = TEST_CREDENTIALS,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """``headers`` plus the SigV4 ones (``X-Amz-Date``, ``Authorization``) that sign a raw HTTP
    request as boto3 would, for ``service`` (``lambda``, ``execute-api``) in us-east-1: for
    tests that call @connections or the Invoke API with a plain HTTP client. ``url`` must be
    what the client sends (its Host and path as on the wire)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(*credentials), service, "us-east-1").add_auth(request)
    return dict(request.headers.items())


def warm_up(stack, strategies: tuple[str, ...] = (*STRATEGIES, "sse-streaming")) -> None:
    """Get one report by each strategy before a test times anything, so every handler is loaded;
    with several strategies, then get them all at once until that needs no new environment.

    A handler's first invocation in a stack imports its modules and builds its boto3 clients:
    real seconds that the time scale does not shrink (at TEST_SCALE, the 29 s integration timeout
    is 0.58 s real), where AWS's cold start is a sliver of the 29 s. A cold handler may still be
    cut while it warms (it runs on), so each strategy is asked again until one report arrives.

    One report at a time leaves one execution environment per function, but a load test's
    users, one per strategy, share functions (the jobs' ``createJob`` and ``deliverReport``), and
    each extra environment cold-starts during the run. That Init is counted at its real duration
    only for its own invocation: a user waiting for the job sees the real time stretched by
    1/scale, so a ``deliverReport`` Init of 2 s on a busy machine is 20 emulated s at scale 0.1,
    and a buffered SSE request for a 5 s report passed the 29 s (CI, stop 21).
    """
    endpoints = Endpoints(stack.rest_url, stack.ws_url)
    for strategy in strategies:
        results = []
        for _ in range(WARM_UP_ATTEMPTS):
            result = _fetch_one(stack, endpoints, strategy, delay_ms=0)
            results.append(result.failure)
            if result.ok:
                break
        else:
            raise AssertionError(f"warm-up: no {strategy} report arrived: {results}")
    if len(strategies) > 1:
        _warm_together(stack, endpoints, strategies)


#: Rounds of every strategy at once that ``warm_up`` runs at most, until one starts no new
#: execution environment: the first starts those the strategies share, the second checks.
WARM_TOGETHER_ROUNDS = 4
#: The report each strategy asks for in those rounds (emulated ms): long enough that every
#: strategy's job runs at the same time as the others, short of the 29 s integration timeout.
WARM_TOGETHER_DELAY_MS = 20_000


def _warm_together(stack, endpoints: Endpoints, strategies: tuple[str, ...]) -> None:
    """Ask for a report by every strategy at once, round after round, until a round starts no
    new execution environment (``cold_starts`` in the stack's metrics). The rounds' reports may
    fail (a cut while an environment loads); what they are for is the environments."""

    def cold_starts() -> int:
        functions = stack.metrics.snapshot()["lambda"]["functions"]
        return sum(figures["cold_starts"] for figures in functions.values())

    together = threading.Barrier(len(strategies))

    def one(strategy: str) -> None:
        together.wait()
        _fetch_one(stack, endpoints, strategy, delay_ms=WARM_TOGETHER_DELAY_MS)

    with ThreadPoolExecutor(len(strategies)) as pool:
        for _ in range(WARM_TOGETHER_ROUNDS):
            before = cold_starts()
            list(pool.map(one, strategies))
            if cold_starts() == before:
                return
    warnings.warn(
        f"warm-up: {WARM_TOGETHER_ROUNDS} rounds of {', '.join(strategies)} at once each started "
        "new execution environments; the test's own run may have cold starts",
        stacklevel=3,  # at warm_up's caller: the fixture whose run may see them
    )


def _fetch_one(stack, endpoints: Endpoints, strategy: str, delay_ms: int) -> ReportResult:
    """One report by ``strategy`` (``sse-streaming``: SSE with response streaming), 1 row."""
    options = {"sse_streaming": True} if strategy == "sse-streaming" else {}
    return fetch_report(
        strategy.removesuffix("-streaming"), endpoints, {"delay": delay_ms, "amountOfRows": 1},
        time_scale=stack.clock.scale, **options,
    )  # fmt: skip


def count_ssl_contexts(monkeypatch) -> list[object]:
    """A list that grows by one each time ``ssl.create_default_context`` makes a context, for
    the rest of the test (``monkeypatch``: pytest's fixture)."""
    made: list[object] = []
    original = ssl.create_default_context

    def counted(*args, **kwargs) -> ssl.SSLContext:
        made.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    return made


def warm_connects(stack, count: int) -> None:
    """Open ``count`` WebSocket connections at once and close them, until one round opens them
    all: ``count`` ``$connect`` (and ``$disconnect``) environments are then warm, so that many
    clients connecting together are not held by cold starts (real seconds; see ``warm_up``)."""

    async def one() -> bool:
        try:
            async with connect(stack.ws_url, open_timeout=60):
                return True
        except (OSError, TimeoutError, WebSocketException):
            return False

    async def together() -> list[bool]:
        return await asyncio.gather(*(one() for _ in range(count)))

    rounds = []
    for _ in range(WARM_UP_ATTEMPTS):
        rounds.append(asyncio.run(together()))
        if all(rounds[-1]):
            return
    raise AssertionError(f"warm-up: {count} connections did not all open at once: {rounds}")


#: Hang guard (real seconds) of ``wait_until`` and ``poll_until``: far longer than any of their
#: waits takes on a loaded machine.
HANG_GUARD_S = 30.0


def wait_until(condition: Callable[[], bool], seconds: float = HANG_GUARD_S) -> None:
    """Return once ``condition()`` is true, checked every 20 ms real; AssertionError after
    ``seconds`` real seconds (a hang guard, not a bound on how long it may take)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


async def poll_until(condition: Callable[[], bool], seconds: float = HANG_GUARD_S) -> None:
    """``wait_until`` on a running event loop: awaits between checks instead of blocking it."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def run_on_runtime(
    service_path: Path,
    scenario: Callable[[ProcessRuntime], Awaitable[T]],
    *,
    scale: float = 1.0,
    variables: dict[str, str] | None = None,
    **options: Any,
) -> tuple[T, Metrics]:
    """``scenario(runtime)`` on a started ``ProcessRuntime`` of ``service_path`` (real execution
    environments; no gateway, no backend) at time ``scale``, with the emulator's ``variables``
    for its environments; closed after. Returns the scenario's result and the metrics."""
    service = load_service(service_path)
    metrics = Metrics()

    async def main() -> T:
        runtime = ProcessRuntime(service, ScaledClock(scale), metrics, variables or {}, **options)
        runtime.start()
        try:
            return await scenario(runtime)
        finally:
            await runtime.close()

    return asyncio.run(main()), metrics
