"""The Costs view's charts: inline SVG written from figures, read back as a browser would."""

import xml.etree.ElementTree as ET

import pytest

from locustfiles import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed XML, as an inline <svg> must be
    assert root.tag == f"{SVG}svg"
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "bar"]


def rect(bar: ET.Element, kind: str) -> ET.Element | None:
    return next((r for r in bar.iter(f"{SVG}rect") if r.get("class") == kind), None)


def top(r: ET.Element) -> float:
    return float(r.get("y", "nan"))


def test_time_chart_has_a_p50_and_p95_bar_per_strategy_and_the_timeout_line_at_its_value():
    figures = [
        charts.TimeBar("rest", 29.1, 29.4),
        charts.TimeBar("websocket", 40.2, 41.0),
        charts.TimeBar("sse", None, None),  # nothing delivered yet: labelled, no bars
    ]
    root = parse(charts.time_chart(figures, 29.0))
    assert root.get("id") == "costs-time-chart"
    found = bars(root)
    assert [g.get("data-strategy") for g in found] == ["rest", "websocket", "sse"]
    labels = [t.text for g in found for t in g.iter(f"{SVG}text") if t.get("class") == "label"]
    assert labels == ["rest", "websocket", "sse"]
    rest, websocket, sse = found
    assert rect(sse, "p50") is None
    assert rect(sse, "p95") is None
    (line,) = [x for x in root.iter(f"{SVG}line") if x.get("class") == "timeout-line"]
    assert line.get("data-seconds") == "29"
    # higher in the picture (smaller y) is longer: 41 s above 29 s, 29.4 s just above the line
    timeout_y = float(line.get("y1", "nan"))
    assert top(rect(websocket, "p95")) < top(rect(rest, "p95")) < timeout_y
    assert top(rect(rest, "p50")) < timeout_y


def test_time_chart_line_moves_with_the_configured_timeout():
    figures = [charts.TimeBar("rest", 5.0, 6.0)]
    y = {}
    for timeout in (10.0, 20.0):
        root = parse(charts.time_chart(figures, timeout))
        (line,) = [x for x in root.iter(f"{SVG}line") if x.get("class") == "timeout-line"]
        assert line.get("data-seconds") == f"{timeout:g}"
        y[timeout] = float(line.get("y1", "nan"))
    assert y[20.0] < y[10.0]


def test_dollars_chart_stacks_the_wasted_part_on_the_rest_with_the_total_written():
    figures = [
        charts.DollarBar("rest", 4.0, 1.0),
        charts.DollarBar("websocket", 1.23, 0.0),
        charts.DollarBar("sse", None, None),
    ]
    root = parse(charts.dollars_chart(figures))
    assert root.get("id") == "costs-dollars-chart"
    rest, websocket, sse = bars(root)
    assert [g.get("data-strategy") for g in (rest, websocket, sse)] == ["rest", "websocket", "sse"]
    used, wasted = rect(rest, "used"), rect(rest, "wasted")
    assert used is not None
    assert wasted is not None
    height = float(wasted.get("height", "nan"))
    assert float(used.get("height", "nan")) == pytest.approx(3 * height, abs=0.2)  # SVG px
    assert top(wasted) + height == pytest.approx(top(used), abs=0.2)  # stacked on top
    values = [t.text for t in rest.iter(f"{SVG}text") if t.get("class") == "value"]
    assert values == ["$4.00"]
    assert float(rect(websocket, "wasted").get("height", "nan")) == 0
    assert rect(sse, "used") is None


def test_labels_are_escaped():
    root = parse(charts.dollars_chart([charts.DollarBar("<b>&", 1.0, 0.0)]))
    assert [g.get("data-strategy") for g in bars(root)] == ["<b>&"]
