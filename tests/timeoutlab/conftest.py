from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.timeoutlab.project import SCALE, write_guarded_project, write_project
from timeoutlab import Stack, StackSettings, start_stack


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's service of ``tests.timeoutlab.project``, written once."""
    return write_project(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="session")
def stack(service: Path) -> Iterator[Stack]:
    """One stack of it at the tests' time scale, shared by the tests that only use it."""
    with start_stack(StackSettings(service=service, time_scale=SCALE)) as running:
        yield running


@pytest.fixture(scope="session")
def guarded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of ``GUARDED_SERVICE``: its WebSocket API's $connect authorizer allows
    ``?token=good`` only."""
    service = write_guarded_project(tmp_path_factory.mktemp("guarded"))
    with start_stack(StackSettings(service=service, time_scale=SCALE)) as running:
        yield running
