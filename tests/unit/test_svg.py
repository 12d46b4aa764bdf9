"""The dashboard's inline SVG charts: well-formed, scaled, labelled for screen readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from services.gateway.dashboard.svg import Bar, Point, bars, line

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def test_bars_scale_to_the_largest_value_and_say_every_number() -> None:
    chart = parse(bars([Bar("thriving", 10, tone="thriving"), Bar("dormant", 5)], title="Bands"))
    assert chart.get("role") == "img"
    assert chart.get("aria-label") == "Bands. thriving: 10; dormant: 5"
    widths = [float(rect.get("width", "0")) for rect in chart.iter(f"{SVG}rect")]
    assert widths[0] == 2 * widths[1] > 0
    assert [rect.get("class") for rect in chart.iter(f"{SVG}rect")] == ["bar bar-thriving", "bar"]


def test_bars_escape_labels_and_take_a_fixed_maximum() -> None:
    markup = bars([Bar("<b>&", 0.5, text="50%")], title='a "title"', maximum=1.0)
    chart = parse(markup)
    assert "<b>" not in markup
    assert chart.get("aria-label") == 'a "title". <b>&: 50%'
    texts = [text.text for text in chart.iter(f"{SVG}text")]
    assert texts == ["<b>&", "50%"]


def test_bars_without_data_still_render() -> None:
    chart = parse(bars([], title="Nothing"))
    assert chart.get("aria-label") == "Nothing: no data"


def test_line_draws_a_gap_where_nothing_is_known() -> None:
    points = [
        Point("d1", None),
        Point("d2", 40),
        Point("d3", 60),
        Point("d4", None),
        Point("d5", 90),
    ]
    chart = parse(line(points, title="Health", zones=((80, "thriving"), (0, "dormant"))))
    polylines = list(chart.iter(f"{SVG}polyline"))
    assert [len(p.get("points", "").split()) for p in polylines] == [2, 1]
    assert len(list(chart.iter(f"{SVG}circle"))) == 3
    label = chart.get("aria-label", "")
    assert label.startswith("Health: 40 on d2, 90 on d5")
    assert "lowest 40 on d2, highest 90 on d5" in label
    zones = [r.get("class") for r in chart.iter(f"{SVG}rect")]
    assert zones == ["zone zone-thriving", "zone zone-dormant"]


def test_line_maps_values_top_down_and_clamps() -> None:
    chart = parse(line([Point("a", 100), Point("b", 0), Point("c", 150)], title="t", height=220))
    ys = [float(c.get("cy", "0")) for c in chart.iter(f"{SVG}circle")]
    assert ys[0] < ys[1]
    assert ys[2] == ys[0]  # 150 is drawn at the top, like 100


def test_line_without_values_says_so() -> None:
    chart = parse(line([Point("a", None)], title="Health"))
    assert chart.get("aria-label") == "Health: no data"
    assert "no data" in [text.text for text in chart.iter(f"{SVG}text")]
