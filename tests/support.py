"""Helpers shared by the tests: inline services (starlette-style) and a timing tolerance."""

from __future__ import annotations

import textwrap
from pathlib import Path

import boto3
from botocore.config import Config

from emulator.stack import StackConfig

#: Tests play emulated time 50x faster: a 40 s report takes 0.8 s, the 29 s timeout 0.58 s.
TEST_SCALE = 0.02
#: Load tests, and real handlers whose result must beat a deadline by a few emulated seconds (a
#: long poll held 20 s against the 29 s timeout: 9 s, 0.18 s real at TEST_SCALE), run gentler:
#: unscaled processing on two busy cores (a first boto3 client, a slow DynamoDB call) must not
#: eat a route's 29 s (1.45 s real here) or such a margin (0.45 s real).
LOAD_SCALE = 0.05


def write_service(
    directory: Path,
    handlers: str,
    functions: str,
    *,
    extra: str = "",
    module: str = "app",
) -> Path:
    """A serverless.yml and a handler file, written inline by the test that uses them."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{module}.py").write_text(textwrap.dedent(handlers))
    yml = (
        "service: inline\n"
        "provider:\n  name: aws\n  runtime: python3.12\n  stage: dev\n"
        f"functions:\n{textwrap.indent(textwrap.dedent(functions).strip(), '  ')}\n"
        f"{textwrap.dedent(extra)}"
    )
    path = directory / "serverless.yml"
    path.write_text(yml)
    return path


def stack_config(backend_url: str, **overrides) -> StackConfig:
    """A stack on free ports against the session's moto server, at the test time scale."""
    settings = {"http_port": 0, "ws_port": 0, "backend": backend_url, "time_scale": TEST_SCALE}
    settings.update(overrides)
    return StackConfig(**settings)


def aws_client(service: str, endpoint_url: str, **config):
    """A boto3 client for an emulator endpoint, with dummy credentials and no retries."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, **config),
    )
