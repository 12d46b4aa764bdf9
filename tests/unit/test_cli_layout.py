"""How the CLI lays out what it prints: whole words, whole ids, 80 columns unless `--wide`."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from services.cli.audit import _summary, audit_table
from services.cli.queries import component_lines
from services.cli.tables import print_table, table, text_column
from services.cli.today import today_table

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def printed(renderable: Any, width: int = 80, wide: bool = False) -> list[str]:
    """What an uncoloured terminal `width` columns wide shows."""
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    if wide:
        print_table(console, renderable, wide=True)
    else:
        console.print(renderable)
    return [line.rstrip() for line in out.getvalue().splitlines()]


def test_components_come_three_to_a_line_under_their_label() -> None:
    components = {
        "recency": 1.0, "frequency": 0.25, "reciprocity": 1.0,
        "sentiment": 0.5, "depth": 0.7, "momentum": 1.0,
    }  # fmt: skip
    assert component_lines(components) == [
        "components recency 1.00  frequency 0.25  reciprocity 1.00",
        "           sentiment 0.50  depth 0.70  momentum 1.00",
    ]


def test_a_wide_table_takes_the_width_it_needs_and_a_compact_one_fits() -> None:
    rows = table(*(text_column(f"column {n}") for n in range(6)))
    rows.add_row(*(f"a cell of some words {n}" for n in range(6)))
    compact = printed(rows)
    assert max(len(line) for line in compact) <= 80
    wide = printed(rows, wide=True)
    assert len(wide) == 3  # header, rule, one row: no cell wrapped
    assert "a cell of some words 5" in wide[2]


def test_a_rejected_change_says_why_in_the_compact_audit_and_no_flag_is_cut() -> None:
    change: dict[str, Any] = {
        "seq": 19, "time": "2026-10-16T10:00:00+00:00", "from": "engagement",
        "to": "partnership", "accepted": False, "reason": None, "actor": "bot",
        "source": "legacy-crm",
        "flags": ["skipped:conversion", "missing-reason", "no-accepted-proposal"],
        "rejected_because": "skipping conversion (from engagement to partnership) needs a reason",
    }  # fmt: skip
    lines = printed(audit_table([change], "crm-1042 Lin Wei: now closed", wide=False))
    reason_at = lines[1].index("reason")  # the header line, under the title
    reason = " ".join(line[reason_at:].strip() for line in lines[3:])
    assert reason == "rejected: skipping conversion (from engagement to partnership) needs a reason"
    for flag in change["flags"]:
        assert any(flag in line.split() for line in lines), flag
    assert max(len(line) for line in lines) <= 80


def test_history_names_the_counterpart_and_lists_words() -> None:
    handshake = {"data": {"owner": "tom@example.com", "counterpart": {"name": "Lin Wei"}}}
    assert _summary(handshake) == "owner=tom@example.com, counterpart=Lin Wei"
    capacity = {"data": {"capacity": "low", "goals": ["hire", "grow"]}}
    assert _summary(capacity) == "capacity=low, goals=hire, grow"
    long = _summary({"data": {"notes": "word " * 100}})
    assert len(long) == 120
    assert long.endswith("…")


def test_today_puts_the_id_and_name_on_one_line_then_why_then_what_to_do() -> None:
    item = {
        "relationship_id": "katherine-johnson-7821572f",
        "name": "Katherine Johnson",
        "next_touch_due": (NOW + timedelta(days=6, hours=23)).isoformat(),
        "reasons": ["no interactions recorded yet; connection expects a touch every 7 days"],
        "flags": ["no-contact"],
    }
    lines = printed(today_table([item], NOW, wide=False))
    assert lines[2:] == [
        "in 6d  katherine-johnson-7821572f  Katherine Johnson",
        "       no interactions recorded yet; connection expects a touch every 7 days",
        "       → reach out: log a first touch",
    ]
