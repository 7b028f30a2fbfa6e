import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import reportapp
from emulator.backends.moto_server import EmbeddedMoto, free_port
from tests.ministack import BINARY, MiniStack

# The report handlers import their helpers the AWS way, from the package root.
sys.path.append(str(Path(reportapp.__file__).parent))


@pytest.fixture(scope="session")
def moto_server() -> Iterator[EmbeddedMoto]:
    """One real moto server for the session, on a free loopback port."""
    server = EmbeddedMoto(port=free_port()).start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def ministack() -> Iterator[MiniStack]:
    """MiniStack on a free loopback port, for the external-endpoint and remote-Lambda modes."""
    if not BINARY.exists():
        pytest.skip(f"MiniStack is not installed at {BINARY}: run `make ministack`")
    server = MiniStack().start()
    yield server
    server.close()
