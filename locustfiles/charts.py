"""The Costs view's two charts, written as inline SVG from plain figures (no script, no CDN).

- ``time_chart``: per strategy, time to result p50 and p95 (emulated s) as two bars, against a
  dashed horizontal line at the integration timeout;
- ``dollars_chart``: per strategy, dollars per million reports as one bar, its wasted part
  (Lambda time billed after the caller gave up) stacked on top of the rest.

Each chart is one ``<svg>`` with a stable ``id``; each strategy is one ``<g class="bar"
data-strategy="...">``; the timeout line is ``<line class="timeout-line" data-seconds="29">``.
Plain SVG of our own rather than matplotlib: the UI asks for the view every two seconds, and a
figure this simple costs microseconds this way and tens of milliseconds through a plotting stack.
Pure functions: same figures in, same text out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from locustfiles import units

WIDTH, HEIGHT = 640, 300  # SVG user units (px)
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 30, 60  # margins
TICKS = 5
COLOURS = {"p50": "#2b6cb0", "p95": "#90cdf4", "used": "#2f855a", "wasted": "#e53e3e"}
TIME_CHART_ID = "costs-time-chart"
DOLLARS_CHART_ID = "costs-dollars-chart"


@dataclass(frozen=True)
class TimeBar:
    """A strategy's time to result: p50 and p95 in emulated seconds (None: none delivered)."""

    label: str
    p50_s: float | None
    p95_s: float | None


@dataclass(frozen=True)
class DollarBar:
    """A strategy's dollars per million reports, and the wasted part of them (None: unknown)."""

    label: str
    usd: float | None
    wasted_usd: float | None


def _nice_step(top: float) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about TICKS ticks up to top."""
    raw = top / TICKS
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _axis(top: float, fmt) -> tuple[float, list[str]]:
    """The axis maximum (a whole number of steps) and its tick marks and grid lines."""
    step = _nice_step(top if top > 0 else 1.0)
    ticks = max(1, math.ceil(top / step)) if top > 0 else TICKS
    maximum = ticks * step
    parts = []
    for i in range(ticks + 1):
        value = i * step
        y = _y(value, maximum)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e2e8f0"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11">{escape(fmt(value))}</text>'
        )
    return maximum, parts


def _y(value: float, maximum: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / maximum)


def _slots(count: int) -> tuple[float, float]:
    """The width of one strategy's slot and of a bar in it."""
    slot = (WIDTH - LEFT - RIGHT) / max(count, 1)
    return slot, min(48.0, slot * 0.6)


def _frame(element_id: str, title: str, body: list[str], legend: list[tuple[str, str]]) -> str:
    keys = "".join(
        f'<rect x="{LEFT + 150 * i}" y="8" width="10" height="10" fill="{colour}"/>'
        f'<text x="{LEFT + 150 * i + 14}" y="17" font-size="11">{escape(name)}</text>'
        for i, (name, colour) in enumerate(legend)
    )
    return (
        f'<svg id="{element_id}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'font-family="sans-serif"><title>{escape(title)}</title>{keys}'
        f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="#4a5568"/>{"".join(body)}</svg>'
    )


def _label(x: float, text: str) -> str:
    return (
        f'<text class="label" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
        f'font-size="11">{escape(text)}</text>'
    )


def _rect(kind: str, x: float, width: float, bottom: float, top: float, value: str) -> str:
    return (
        f'<rect class="{kind}" x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" '
        f'height="{max(0.0, bottom - top):.1f}" fill="{COLOURS[kind]}">'
        f"<title>{escape(f'{kind}: {value}')}</title></rect>"
    )


def time_chart(bars: list[TimeBar], timeout_s: float, element_id: str = TIME_CHART_ID) -> str:
    """Time to result per strategy, p50 beside p95, against the integration timeout line.

    ``timeout_s``: the integration timeout in emulated seconds (29 on AWS)."""
    highest = max([timeout_s, *(b.p95_s or b.p50_s or 0.0 for b in bars)])
    maximum, body = _axis(highest * 1.1, lambda v: f"{v:g} s")
    slot, width = _slots(len(bars))
    base = _y(0, maximum)
    for i, bar in enumerate(bars):
        centre = LEFT + slot * (i + 0.5)
        half = width / 2
        parts = [_label(centre, bar.label)]
        for kind, value, x in (
            ("p50", bar.p50_s, centre - half),
            ("p95", bar.p95_s, centre),
        ):
            if value is not None:
                parts.append(_rect(kind, x, half, base, _y(value, maximum), units.seconds(value)))
        body.append(
            f'<g class="bar" data-strategy="{escape(bar.label)}" '
            f'data-p50-s="{"" if bar.p50_s is None else bar.p50_s}" '
            f'data-p95-s="{"" if bar.p95_s is None else bar.p95_s}">{"".join(parts)}</g>'
        )
    y = _y(timeout_s, maximum)
    body.append(
        f'<line class="timeout-line" data-seconds="{timeout_s:g}" x1="{LEFT}" '
        f'x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c53030" stroke-dasharray="6 4">'
        f"<title>integration timeout {timeout_s:g} s</title></line>"
        f'<text class="timeout-label" x="{WIDTH - RIGHT}" y="{y - 4:.1f}" text-anchor="end" '
        f'font-size="11" fill="#c53030">integration timeout {timeout_s:g} s</text>'
    )
    legend = [("p50 time to result", COLOURS["p50"]), ("p95", COLOURS["p95"])]
    return _frame(element_id, "Time to result per strategy (emulated s)", body, legend)


def dollars_chart(bars: list[DollarBar], element_id: str = DOLLARS_CHART_ID) -> str:
    """Dollars per million reports per strategy, the wasted part stacked on the rest."""
    highest = max([0.0, *(b.usd or 0.0 for b in bars)])
    maximum, body = _axis(highest * 1.1, units.usd)
    slot, width = _slots(len(bars))
    base = _y(0, maximum)
    for i, bar in enumerate(bars):
        centre = LEFT + slot * (i + 0.5)
        parts = [_label(centre, bar.label)]
        if bar.usd is not None:
            wasted = min(bar.wasted_usd or 0.0, bar.usd)
            used_top = _y(bar.usd - wasted, maximum)
            top = _y(bar.usd, maximum)
            x = centre - width / 2
            parts.append(_rect("used", x, width, base, used_top, units.usd(bar.usd - wasted)))
            parts.append(_rect("wasted", x, width, used_top, top, units.usd(wasted)))
            parts.append(
                f'<text class="value" x="{centre:.1f}" y="{top - 4:.1f}" text-anchor="middle" '
                f'font-size="11">{escape(units.usd(bar.usd))}</text>'
            )
        body.append(
            f'<g class="bar" data-strategy="{escape(bar.label)}" '
            f'data-usd="{"" if bar.usd is None else bar.usd}" '
            f'data-wasted-usd="{"" if bar.wasted_usd is None else bar.wasted_usd}">'
            f"{''.join(parts)}</g>"
        )
    legend = [("used", COLOURS["used"]), ("wasted (after the caller gave up)", COLOURS["wasted"])]
    return _frame(element_id, "Dollars per million reports per strategy", body, legend)
