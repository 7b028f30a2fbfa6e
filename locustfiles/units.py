"""How the Costs tab writes its figures: one rule per kind of number, each with its unit.

- dollars: ``$`` and cents from $1 up (``$3.09``, ``$1,234.50``), two significant digits below
  (``$0.0031``, ``$0.58``), ``$0`` for nothing;
- seconds: two decimals and ``s`` (``5.02 s``); milliseconds: whole and ``ms``;
- bytes: ``B`` below 1 KB, else one decimal and ``KB`` (1 KB = 1,000 bytes) or ``MB``;
- counts per report: two decimals and what was counted (``1.00 requests``).

None (no figure yet) is written as an empty cell. Pure functions: tested directly.
"""

from __future__ import annotations

import math

EMPTY = ""
KB = 1000  # bytes
MB = 1000 * KB
MAX_DECIMALS = 8  # below $0.00000001 a figure is written as $0


def usd(value: float | None) -> str:
    """``3.0949`` -> ``$3.09``; ``0.00309`` -> ``$0.0031``; None -> empty."""
    if value is None:
        return EMPTY
    if value == 0:
        return "$0"
    sign, amount = ("-" if value < 0 else ""), abs(value)
    if amount >= 1:
        return f"{sign}${amount:,.2f}"
    decimals = min(MAX_DECIMALS, 1 - math.floor(math.log10(amount)))
    text = f"{amount:.{decimals}f}"
    return "$0" if float(text) == 0 else f"{sign}${text}"


def seconds(value: float | None) -> str:
    """``5.0234`` -> ``5.02 s``; None -> empty."""
    return EMPTY if value is None else f"{value:,.2f} s"


def milliseconds(value: float | None) -> str:
    """``530.4`` -> ``530 ms``; None -> empty."""
    return EMPTY if value is None else f"{value:,.0f} ms"


def size(value: float | None) -> str:
    """Bytes: ``700`` -> ``700 B``; ``1234`` -> ``1.2 KB``; ``2500000`` -> ``2.5 MB``."""
    if value is None:
        return EMPTY
    if value < KB:
        return f"{value:.0f} B"
    if value < MB:
        return f"{value / KB:.1f} KB"
    return f"{value / MB:,.1f} MB"


def count(value: float | None, unit: str) -> str:
    """A count per report: ``1`` and ``requests`` -> ``1.00 requests``; None -> empty."""
    return EMPTY if value is None else f"{value:,.2f} {unit}"


def whole(value: float | None, unit: str = "") -> str:
    """A whole count, optionally with its unit: ``12`` -> ``12``, ``(4, "reports")`` -> ``4
    reports``."""
    if value is None:
        return EMPTY
    return f"{value:,.0f}" + (f" {unit}" if unit else "")
