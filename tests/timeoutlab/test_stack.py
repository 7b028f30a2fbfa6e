"""``timeoutlab.Stack``: a real ``timeoutlab up`` child process, reached over real sockets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import boto3.session
import httpx
import psutil
import pytest
from botocore.exceptions import ClientError
from websockets.sync.client import connect

from tests.timeoutlab.project import SCALE
from timeoutlab import Stack, StackError, StackSettings, start_stack
from timeoutlab.stack import WORKDIR_PREFIX, find_stack, remove_orphaned_workdirs

#: Real seconds to wait for processes to go: generous, for a loaded machine.
GONE_WITHIN_S = 60.0


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + GONE_WITHIN_S
    while (alive := [pid for pid in pids if not _gone(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def test_urls_serve_and_the_stack_is_found_by_its_urls(stack: Stack) -> None:
    assert stack.rest_url.startswith("http://127.0.0.1:")
    assert stack.rest_url.endswith("/dev")
    assert stack.ws_url.startswith("ws://127.0.0.1:")
    assert stack.ws_url.endswith("/dev")
    assert stack.http_api_url is not None
    assert httpx.get(f"{stack.rest_url}/fast").json() == {"ok": True}
    health = stack.health()
    assert health["status"] == "ok"
    assert health["busy"] == {}
    assert stack.time_scale == SCALE
    assert find_stack(f"{stack.rest_url}/fast") == (stack, "rest")
    assert find_stack(stack.http_api_url.replace("127.0.0.1", "localhost") + "/slow") == (
        stack,
        "http_api",
    )


def test_metrics_parse_a_real_snapshot_after_real_requests(stack: Stack) -> None:
    stack.reset()
    assert httpx.get(f"{stack.rest_url}/fast").status_code == 200
    timed_out = httpx.post(f"{stack.rest_url}/slow", json={"seconds": 40}, timeout=60)
    assert timed_out.status_code == 504
    assert stack.http_api_url is not None
    assert httpx.post(f"{stack.http_api_url}/slow", json={"seconds": 1}).status_code == 200
    stack.wait_idle()
    metrics = stack.metrics
    assert metrics.rest.routes["GET /fast"].status_counts == {200: 1}
    assert metrics.rest.routes["POST /slow"].integration_timeouts == 1
    assert metrics.rest.requests == 2
    assert metrics.rest.integration_timeouts == 1
    assert metrics.rest.wire_bytes_in > 0
    assert metrics.rest.tcp_connections >= 2
    assert metrics.http_api.routes["POST /slow"].status_counts == {200: 1}
    slow = metrics.function("slow")
    assert slow is metrics.functions["shop-dev-slow"]
    assert slow.invocations == 2
    assert slow.outcomes == {"success": 2}
    assert slow.wasted_ms >= 40_000
    assert slow.after_caller_gone_ms > 0
    assert slow.running == 0
    assert metrics.precision.integration_timeouts == 1
    assert metrics.precision.lateness_median_s is not None
    assert metrics.precision.lateness_median_s >= 0
    assert metrics.clock.time_scale == SCALE
    assert metrics.raw["rest"]["requests"] == 2
    with pytest.raises(AttributeError):
        metrics.rest = metrics.http_api  # type: ignore[misc]  # frozen


def test_set_integration_timeout_and_restore(stack: Stack) -> None:
    saved = stack.integration_timeouts()
    assert saved.default_s == 29.0
    assert saved.overrides == {}
    assert saved.http_api_routes == {"POST /slow": 30.0}
    changed = stack.set_integration_timeout("POST /slow", 2, api="rest")
    assert changed.overrides == {"POST /slow": 2.0}
    assert changed.http_api_overrides == {}
    stack.set_integration_timeout("*", 10)
    stack.set_integration_timeout("POST /slow", 1.5, api="http_api")
    now = stack.integration_timeouts()
    assert now.default_s == 10.0
    assert now.routes["push"] == 10.0
    assert now.http_api_overrides == {"POST /slow": 1.5}
    # The new timeout is the gateway's from the next request on.
    start = time.monotonic()
    answer = httpx.post(f"{stack.rest_url}/slow", json={"seconds": 40}, timeout=60)
    assert answer.status_code == 504
    assert (time.monotonic() - start) / SCALE >= 2.0
    with pytest.raises(ValueError, match="unknown route"):
        stack.set_integration_timeout("GET /nowhere", 5)
    with pytest.raises(ValueError, match=r"between 0\.05 and 30"):
        stack.set_integration_timeout("POST /slow", 45, api="http_api")
    both = stack.set_integration_timeout("POST /slow", 5)  # a key of both APIs: set on both
    assert both.overrides["POST /slow"] == both.http_api_overrides["POST /slow"] == 5.0
    restored = stack.restore_integration_timeouts(saved)
    assert restored == saved
    stack.wait_idle()


def test_clients_reach_moto_and_the_management_api(stack: Stack) -> None:
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="from-the-test")
    assert "from-the-test" in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
    assert stack.client("dynamodb").list_tables()["TableNames"] == []
    management = stack.client("apigatewaymanagementapi")
    with connect(stack.ws_url, proxy=None) as ws:
        ws.send(json.dumps({"action": "push", "value": 1}))
        pushed = json.loads(ws.recv(timeout=30))
        assert pushed["pushed"] == 1
        connection_id = pushed["connectionId"]
        assert management.get_connection(ConnectionId=connection_id)["ConnectedAt"]
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"from": "test"}')
        assert json.loads(ws.recv(timeout=30)) == {"from": "test"}
    stack.wait_idle()  # the connection closed, its $disconnect done
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"late")
    with pytest.raises(ValueError, match="no 'sns' endpoint"):
        stack.client("sns")


def test_a_stack_leaks_nothing_into_the_test_process_and_two_run_side_by_side(
    stack: Stack, service: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # What the test itself uses, used once first (httpx imports an encoding on its first call).
    assert httpx.get(f"{stack.rest_url}/fast").status_code == 200
    assert stack.metrics.rest.requests >= 0
    capfd.readouterr()
    environment, path, modules = dict(os.environ), list(sys.path), set(sys.modules)
    with start_stack(StackSettings(service=service, time_scale=SCALE)) as second:
        assert second.rest_url != stack.rest_url
        assert second.pid != stack.pid
        # Each serves on its own: its own requests, its own figures.
        second.reset()
        stack.reset()
        assert httpx.get(f"{second.rest_url}/fast").json() == {"ok": True}
        assert second.metrics.rest.requests == 1
        assert stack.metrics.rest.requests == 0
        assert find_stack(second.rest_url) == (second, "rest")
        assert os.environ == environment
        assert sys.path == path
    assert not second.running
    second.stop()  # again: nothing happens
    assert find_stack(second.rest_url) is None
    assert httpx.get(f"{stack.rest_url}/fast").status_code == 200  # the first one serves on
    assert os.environ == environment
    assert sys.path == path
    assert set(sys.modules) == modules
    assert "handler" not in sys.modules  # the service's own handler module ran in its child
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    assert _wait_gone([second.pid]) == []


def test_a_broken_service_raises_stack_error_with_the_child_output(tmp_path: Path) -> None:
    broken = tmp_path / "serverless.yml"
    broken.write_text(
        "service: broken\nprovider: {name: aws, runtime: python3.12}\nfunctions:\n"
        "  f: {handler: nowhere.handler, events: [{http: {path: a, method: get}}]}\n"
    )
    with pytest.raises(StackError) as raised:
        start_stack(StackSettings(service=broken))
    assert raised.value.returncode == 2
    assert "timeoutlab up exited with code 2 before serving" in str(raised.value)
    assert "timeoutlab: error:" in raised.value.output_tail
    assert "functions.f: handler file" in str(raised.value)
    assert "nowhere.py does not exist" in str(raised.value)


def test_a_stack_that_does_not_serve_in_time_is_killed_with_its_output(service: Path) -> None:
    with pytest.raises(StackError, match=r"did not serve within 0.2 real s") as raised:
        start_stack(StackSettings(service=service, start_timeout_s=0.2))
    assert raised.value.returncode is None


PARENT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from timeoutlab import StackSettings, start_stack

    stack = start_stack(StackSettings(service=Path(sys.argv[1]), time_scale=0.02))
    print(json.dumps({"pid": stack.pid, "log": str(stack.log_path)}), flush=True)
    sys.stdin.read()  # until the test kills this process
""")


def test_the_stack_stops_when_its_parent_is_killed(service: Path, tmp_path: Path) -> None:
    # A temporary folder of its own: another process's start (a test worker beside this one)
    # would otherwise remove the killed parent's folder before this test looks at it.
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(service)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, "the parent did not start its stack"
        started = json.loads(line)
        pid, workdir = started["pid"], Path(started["log"]).parent
        family = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
        assert len(family) >= 3  # timeoutlab up, its moto server, execution environments
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert _wait_gone(family) == [], "still running after the parent's SIGKILL"
        # Its folder stays behind (nothing ran to remove it) until a later start removes it,
        # while this process's own stacks keep theirs.
        assert workdir.parent == tmp_path
        assert workdir.is_dir()
        mine = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-", dir=tmp_path))
        assert remove_orphaned_workdirs(tmp_path) == [workdir]
        assert not workdir.exists()
        assert mine.is_dir()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_the_security_settings_reach_the_stack_and_its_clients(service: Path) -> None:
    settings = StackSettings(
        service=service, time_scale=SCALE, credentials="AKIDTEST:s3cret", control_token="tok3n"
    )
    with start_stack(settings) as secured:
        # The handle sends the token; others get 401 (health stays open).
        assert secured.metrics.rest.requests == 0
        assert httpx.get(f"{secured.control_url}/metrics").status_code == 401
        assert httpx.get(f"{secured.control_url}/health").status_code == 200
        with connect(secured.ws_url, proxy=None) as ws:
            # The handler signs its @connections call with the stack's key: its push arrives.
            ws.send(json.dumps({"action": "push", "value": "secure"}))
            connection_id = json.loads(ws.recv(timeout=30))["connectionId"]
            # So do the handle's clients; a client with another key is refused.
            management = secured.client("apigatewaymanagementapi")
            assert management.get_connection(ConnectionId=connection_id)["ConnectedAt"]
            other = boto3.session.Session(
                aws_access_key_id="OTHER", aws_secret_access_key="x", region_name="us-east-1"
            ).client("apigatewaymanagementapi", endpoint_url=secured.connections_url)
            with pytest.raises(ClientError, match="UnrecognizedClientException"):
                other.get_connection(ConnectionId=connection_id)
    assert not secured.running
