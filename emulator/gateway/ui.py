"""The article's client page, served at ``/_emulator/ui/`` on the HTTP port.

The files (``emulator/ui/static/``: plain HTML, CSS and ES modules, no build step) are read once
at start into memory, by name; which one a request gets is ``emulator.core.ui_assets.resolve``'s
decision, so nothing outside that set can be reached. Each answer carries its content type,
``Cache-Control: no-cache`` and an ``ETag`` (a matching ``If-None-Match`` gets 304). The routes
sit behind the control plane's access rules (``emulator.gateway.control.guarded``: the Host
check applies; ``--control-token`` does not, the page asks for the token itself).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from emulator.core.control_access import ControlAccess
from emulator.core.ui_assets import (
    CACHE_CONTROL,
    UI_PATH,
    NotFound,
    Redirect,
    Serve,
    resolve,
    servable,
)
from emulator.gateway.control import guarded

#: The page's files, shipped in the package (pyproject's package-data).
STATIC_DIR = Path(__file__).resolve().parent.parent / "ui" / "static"


@dataclass(frozen=True)
class Asset:
    """One file of the page: its bytes and their entity tag (RFC 9110 8.8.3, strong)."""

    body: bytes
    etag: str


def load_assets(directory: Path = STATIC_DIR) -> dict[str, Asset]:
    """The page's files in ``directory`` by name (only those ``servable`` accepts; symlinks
    skipped); raises OSError when the folder cannot be read."""
    assets = {}
    for path in sorted(directory.iterdir()):
        if path.is_symlink() or not path.is_file() or not servable(path.name):
            continue
        body = path.read_bytes()
        assets[path.name] = Asset(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
    return assets


class UiPage:
    """Serves the page's files under ``UI_PATH``, guarded by ``access``."""

    def __init__(self, access: ControlAccess, directory: Path = STATIC_DIR) -> None:
        self.access = access
        self.assets = load_assets(directory)
        self.names = frozenset(self.assets)

    def add_routes(self, app: web.Application) -> None:
        """Register GET (and HEAD) ``/_emulator/ui`` and everything under it; before the control
        plane's catch-all, which would answer them 404."""
        handler = guarded(self.access, self.handle)
        app.router.add_get(UI_PATH, handler)
        app.router.add_get(UI_PATH + "/{name:.*}", handler)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """A file of the page (200, or 304 for a matching ``If-None-Match``), the 308 from
        ``/_emulator/ui``, or 404 (JSON ``message``) for anything else."""
        answer = resolve(request.path, self.names)
        if isinstance(answer, Redirect):
            return web.Response(status=308, headers={"Location": answer.location})
        if isinstance(answer, NotFound):
            return web.json_response(
                {"message": f"no such file of the page: {answer.path}; open {UI_PATH}/"},
                status=404,
            )
        assert isinstance(answer, Serve)
        asset = self.assets[answer.name]
        headers = {
            "Cache-Control": CACHE_CONTROL,
            "ETag": asset.etag,
            "X-Content-Type-Options": "nosniff",
        }
        if asset.etag in _etags(request.headers.get("If-None-Match", "")):
            return web.Response(status=304, headers=headers)
        return web.Response(
            body=asset.body, headers={**headers, "Content-Type": answer.content_type}
        )


def _etags(header: str) -> set[str]:
    """The entity tags of an ``If-None-Match`` value, weak ones compared weakly (RFC 9110
    13.1.2)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
