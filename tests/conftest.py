import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import reportapp
from emulator.backends.moto_server import EmbeddedMoto, free_port

# The report handlers import their helpers the AWS way, from the package root.
sys.path.append(str(Path(reportapp.__file__).parent))


@pytest.fixture(scope="session")
def moto_server() -> Iterator[EmbeddedMoto]:
    """One real moto server for the session, on a free loopback port."""
    server = EmbeddedMoto(port=free_port()).start()
    yield server
    server.close()
