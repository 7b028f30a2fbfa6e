"""Handlers resolve only inside the service folder (emulator.service.functions.handler_file):
a path or a symlink that leads out of it is refused at start, as the file would not be in the
deployment package Serverless builds from the folder."""

import pytest

from emulator.service import ServiceError, load_service
from tests.support import write_service

HANDLER = "def handler(event, context):\n    return {'statusCode': 200}\n"


@pytest.fixture
def outside(tmp_path):
    """A real handler file beside the service folder, not in it."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "x.py").write_text(HANDLER)
    (folder / "x.js").write_text("exports.handler = async () => ({statusCode: 200});\n")
    return folder


@pytest.mark.parametrize("runtime", ["python3.12", "nodejs20.x"])
def test_a_handler_path_leading_out_of_the_folder_is_refused(tmp_path, outside, runtime):
    path = write_service(
        tmp_path / "svc", HANDLER, f"f:\n  handler: ../outside/x.handler\n  runtime: {runtime}"
    )
    with pytest.raises(ServiceError, match=r"functions\.f: handler '\.\./outside/x\.handler' "
                       "points outside the service folder"):  # fmt: skip
        load_service(path)


def test_a_symlinked_handler_file_leading_out_is_refused(tmp_path, outside):
    path = write_service(tmp_path / "svc", HANDLER, "f:\n  handler: link.handler")
    (path.parent / "link.py").symlink_to(outside / "x.py")
    with pytest.raises(ServiceError, match="points outside the service folder"):
        load_service(path)


def test_a_symlinked_folder_leading_out_is_refused(tmp_path, outside):
    path = write_service(tmp_path / "svc", HANDLER, "f:\n  handler: lib/x.handler")
    (path.parent / "lib").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ServiceError, match="points outside the service folder"):
        load_service(path)


def test_a_symlink_that_stays_inside_is_fine(tmp_path):
    path = write_service(tmp_path / "svc", HANDLER, "f:\n  handler: alias.handler")
    (path.parent / "alias.py").symlink_to(path.parent / "app.py")
    assert load_service(path).functions["f"].module_path.name == "alias.py"
