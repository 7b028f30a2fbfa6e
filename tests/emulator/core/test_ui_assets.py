"""Which file of the page a path gets (emulator.core.ui_assets), with no server."""

import pytest

from emulator.core.ui_assets import (
    CONTENT_TYPES,
    NotFound,
    Redirect,
    Serve,
    resolve,
    servable,
)

FILES = frozenset({"index.html", "app.js", "style.css"})


def test_the_bare_path_is_redirected_to_the_folder():
    assert resolve("/_emulator/ui", FILES) == Redirect("/_emulator/ui/")


def test_the_folder_is_the_index_and_each_file_has_its_type():
    assert resolve("/_emulator/ui/", FILES) == Serve("index.html", "text/html; charset=utf-8")
    assert resolve("/_emulator/ui/app.js", FILES) == Serve(
        "app.js", "text/javascript; charset=utf-8"
    )
    assert resolve("/_emulator/ui/style.css", FILES).content_type.startswith("text/css")


@pytest.mark.parametrize(
    "path",
    [
        "/_emulator/ui/../health",
        "/_emulator/ui/../../pyproject.toml",
        "/_emulator/ui/..%2fstack.py",
        "/_emulator/ui/static/app.js",
        "/_emulator/ui//app.js",
        "/_emulator/ui/app.js/",
        "/_emulator/ui/APP.JS",
        "/_emulator/ui/missing.js",
        "/_emulator/uix",
        "/_emulator/ui/%2e%2e/cli.py",
    ],
)
def test_nothing_but_a_listed_file_is_served(path):
    assert resolve(path, FILES) == NotFound(path)


def test_a_listed_name_outside_the_rules_is_still_not_served():
    # Even if such a name got into the set, the rules refuse it.
    assert isinstance(resolve("/_emulator/ui/../x.js", FILES | {"../x.js"}), NotFound)
    assert isinstance(resolve("/_emulator/ui/.env.js", FILES | {".env.js"}), NotFound)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("index.html", True),
        ("app.js", True),
        ("logo.svg", True),
        ("notes.md", False),
        (".hidden.js", False),
        ("sub/app.js", False),
        ("..", False),
        ("app.py", False),
    ],
)
def test_servable_names(name, ok):
    assert servable(name) is ok


def test_every_content_type_a_browser_needs_is_declared():
    assert set(CONTENT_TYPES) >= {".html", ".css", ".js"}
