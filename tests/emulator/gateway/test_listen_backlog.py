"""``--listen-backlog``: every listening port's accept queue, as the kernel reports it."""

import asyncio
import shutil
import subprocess

import pytest

from emulator import stack as stack_module
from emulator.cli import _config, build_parser
from emulator.stack import StackConfig, read_somaxconn
from tests.virtual import service_file, virtual_stack

FUNCTIONS = """
quick:
  handler: app.quick
  events: [{http: GET quick}, {httpApi: 'GET /quick'}, {websocket: {route: $default}}]
"""


async def quick(event, context):
    return {"statusCode": 200}


def test_the_cli_options_reach_the_config_and_the_backlog_defaults_to_1024():
    parser = build_parser()
    assert _config(parser.parse_args(["up"])).listen_backlog == 1024
    options = ["--listen-backlog", "77", "--header-timeout", "5", "--keepalive-timeout", "9"]
    config = _config(parser.parse_args(["up", *options]))
    assert config.listen_backlog == 77
    timeouts = config.connection_timeouts
    assert (timeouts.header_timeout, timeouts.idle_timeout) == (5, 9)


def listen_queue(port: int) -> int:
    """The accept queue of the socket listening on ``port``: ``ss`` shows a listening socket's
    backlog in its Send-Q column (Linux)."""
    shown = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(shown[2])  # State Recv-Q Send-Q Local Peer


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to read the queue")
def test_every_port_listens_with_the_configured_backlog(tmp_path):
    cap = read_somaxconn()
    backlog = 77 if cap is None else min(77, cap)
    path = service_file(tmp_path, FUNCTIONS)

    async def main():
        config = StackConfig(listen_backlog=backlog)
        async with virtual_stack(path, {"quick": quick}, config=config) as stack:
            ports = [stack.http_port, stack.ws_port, stack.http_api_port]
            return [await asyncio.to_thread(listen_queue, port) for port in ports]

    assert asyncio.run(main()) == [backlog, backlog, backlog]


def test_a_kernel_cap_below_the_backlog_is_warned_about_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(stack_module, "read_somaxconn", lambda: 100)
    monkeypatch.setattr(stack_module, "_WARNED", set())
    path = service_file(tmp_path, FUNCTIONS)

    async def start_and_stop():
        async with virtual_stack(path, {"quick": quick}):
            pass

    asyncio.run(start_and_stop())
    asyncio.run(start_and_stop())
    warnings = [r.getMessage() for r in caplog.records if "somaxconn" in r.getMessage()]
    assert len(warnings) == 1
    assert "listen backlog 1024 is capped by the kernel at net.core.somaxconn = 100" in warnings[0]
