"""Command-line value types shared by ``timeoutlab up``/``demo`` and ``timeoutlab scenario``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

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
