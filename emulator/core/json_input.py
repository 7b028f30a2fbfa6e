"""Parsing JSON that came from a client, whatever its shape: never more than an ``InvalidJson``.

Python's ``json`` module parses nested arrays and objects by recursion, so a document nested
deeper than the interpreter's recursion limit (about 1000 levels) raises ``RecursionError``
rather than ``ValueError``. Every place that parses a client's JSON (the Lambda Invoke API's
payload, ``/_emulator/config``, WebSocket route selection) goes through ``parse_json`` so such a
document is "not JSON we can read", answered as the API answers bad JSON, and never an
unhandled error.
"""

from __future__ import annotations

import json
from typing import Any


class InvalidJson(ValueError):
    """The text is not JSON this emulator can parse; ``str()`` says why in one line."""


def parse_json(text: str | bytes | bytearray) -> Any:
    """The JSON value of ``text`` (str, or bytes in UTF-8/16/32 as ``json.loads`` takes them).

    Raises InvalidJson for text that is not JSON, bytes that are not text, or a document nested
    too deeply to parse (``RecursionError`` inside ``json``)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise InvalidJson("JSON nested too deeply to parse") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise InvalidJson(str(exc)) from None
