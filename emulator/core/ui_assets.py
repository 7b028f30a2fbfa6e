"""Which file of the page a request under ``/_emulator/ui`` gets: the rules, as pure data.

The page is a handful of files shipped in the package (``emulator/ui/static/``), known by name
when the emulator starts. A request names one of them exactly, or gets 404: no path is ever
joined to a folder, so no ``..``, encoded slash or symlink can reach another file. ``/_emulator/ui``
answers 308 to ``/_emulator/ui/`` (RFC 9110 15.4.9: a permanent redirect that keeps the method),
whose answer is ``index.html``. None of this is AWS's: the page is the emulator's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

#: Where the page lives on the HTTP port (under the control plane's prefix).
UI_PATH = "/_emulator/ui"
#: The file ``/_emulator/ui/`` answers with.
INDEX = "index.html"
#: Content types by file suffix; a file of another kind is not served. JavaScript's is
#: ``text/javascript`` (RFC 9239 6); the browser runs an ES module only with a JavaScript type.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
#: Every answer may be stored but must be revalidated (RFC 9111 5.2.2.4): a new version of the
#: emulator serves its new page at once, and an unchanged file costs a 304.
CACHE_CONTROL = "no-cache"


@dataclass(frozen=True)
class Serve:
    """Answer with the file ``name`` (one of the page's), as ``content_type``."""

    name: str
    content_type: str


@dataclass(frozen=True)
class Redirect:
    """Answer 308 with ``Location: location``."""

    location: str


@dataclass(frozen=True)
class NotFound:
    """Answer 404: no such file of the page."""

    path: str


UiAnswer = Serve | Redirect | NotFound


def servable(name: str) -> bool:
    """Whether a file of the static folder, by ``name``, is part of the page: a plain name (no
    folder, not hidden) of a known kind."""
    pure = PurePosixPath(name)
    return (
        len(pure.parts) == 1
        and not name.startswith(".")
        and pure.suffix in CONTENT_TYPES
        and name == pure.name
    )


def resolve(path: str, files: frozenset[str]) -> UiAnswer:
    """The answer to a request for ``path`` (decoded, as routed: ``/_emulator/ui...``) when the
    page's files are ``files`` (names that ``servable`` accepts)."""
    if path == UI_PATH:
        return Redirect(UI_PATH + "/")
    if not path.startswith(UI_PATH + "/"):
        return NotFound(path)
    name = path.removeprefix(UI_PATH + "/") or INDEX
    if name not in files or not servable(name):
        return NotFound(path)
    return Serve(name, CONTENT_TYPES[PurePosixPath(name).suffix])
