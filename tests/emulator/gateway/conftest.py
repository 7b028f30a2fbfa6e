from collections.abc import Iterator

import httpx
import pytest

from emulator.stack import Stack, StackThread
from tests.support import stack_config


@pytest.fixture(scope="module")
def report_stack(moto_server) -> Iterator[Stack]:
    """The bundled report app behind the gateway, on free ports, at the test time scale."""
    with StackThread(stack_config(moto_server.endpoint_url)) as stack:
        yield stack


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c
