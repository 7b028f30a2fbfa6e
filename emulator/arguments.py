"""Command-line value types shared by ``timeoutlab up``/``demo`` and ``timeoutlab scenario``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from emulator.clock import validate_scale


def positive(kind: type) -> Callable[[str], float]:
    """A number of ``kind`` above zero, or argparse's one-line refusal."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def positive_ints(text: str) -> tuple[int, ...]:
    """Comma-separated whole numbers above zero (``1,20``), or argparse's one-line refusal."""
    parse = positive(int)
    return tuple(int(parse(part.strip())) for part in text.split(","))


def time_scale(text: str) -> float:
    try:
        return validate_scale(float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


#: The service files ``--service DIR`` looks for in DIR, in this order: the Serverless
#: Framework's static formats (it also reads serverless.js and serverless.ts, which need Node.js
#: to evaluate and timeoutlab does not run; https://www.serverless.com/framework/docs/
#: providers/aws/guide/services). JSON is read as YAML.
SERVICE_FILE_NAMES = ("serverless.yml", "serverless.yaml", "serverless.json")
_UNREADABLE_SERVICE_FILES = ("serverless.js", "serverless.ts")


def service_file(text: str) -> Path:
    """``--service PATH``: a service file, or a directory standing for the first of
    ``SERVICE_FILE_NAMES`` in it. A directory with none of them is argparse's one-line refusal
    naming the directory and the names looked for. A path that is not a directory is returned
    as given (the loader reports a missing or unreadable file)."""
    path = Path(text)
    if not path.is_dir():
        return path
    for name in SERVICE_FILE_NAMES:
        if (path / name).is_file():
            return path / name
    found = [name for name in _UNREADABLE_SERVICE_FILES if (path / name).is_file()]
    hint = (
        f" (it has {', '.join(found)}: timeoutlab reads YAML or JSON service files only)"
        if found
        else ""
    )
    raise argparse.ArgumentTypeError(
        f"directory {text} has no {', '.join(SERVICE_FILE_NAMES)}{hint}"
    )
