"""What the dashboard pages make of query replies (pure helpers of services/web/views.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.dashboard import views

FUNNEL = {
    "stages": {"connection": 2, "awareness": 1, "engagement": 0, "conversion": 0,
               "partnership": 0, "closed": 1},
    "reached": {"connection": 4, "awareness": 2, "engagement": 0, "conversion": 0,
                "partnership": 0},
    "conversion": {"connection->awareness": 0.5, "awareness->engagement": 0.0,
                   "engagement->conversion": None, "conversion->partnership": None},
}  # fmt: skip


def test_funnel_rows_follow_the_stages_then_closed() -> None:
    rows = views.funnel_rows(FUNNEL)
    assert [row.stage for row in rows] == [
        "connection", "awareness", "engagement", "conversion", "partnership", "closed"
    ]  # fmt: skip
    assert rows[0] == views.FunnelRow("connection", 2, 4, 0.5)
    assert rows[2].onward is None
    assert rows[-1] == views.FunnelRow("closed", 1, None, None)
    assert 'aria-label="Relationships that ever reached' in views.funnel_chart(rows)


def test_due_rows_name_the_counterpart_and_count_days_overdue() -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    items = [
        {"relationship_id": "ada", "next_touch_due": "2026-03-01T12:00:00Z"},
        {"relationship_id": "bob", "next_touch_due": "2026-03-20T12:00:00Z"},
    ]
    names = views.names_of([{"relationship_id": "ada", "counterpart": {"name": "Ada L."}}])
    rows = views.due_rows(items, names, now)
    assert [(row["name"], row["overdue"]) for row in rows] == [("Ada L.", 9), ("bob", 0)]


def test_health_instants_span_a_year_fortnightly_ending_now() -> None:
    now = datetime(2026, 3, 10, tzinfo=UTC)
    instants = views.health_instants(now)
    assert len(instants) == 26
    assert instants[-1] == now
    assert instants[-1] - instants[-2] == timedelta(days=14)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T10:30", datetime(2026, 3, 1, 10, 30, tzinfo=UTC)),
        ("2026-03-01T10:30:00Z", datetime(2026, 3, 1, 10, 30, tzinfo=UTC)),
        ("2026-03-01T11:30:00+01:00", datetime(2026, 3, 1, 10, 30, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_the_as_of_picker_reads_utc(text: str | None, expected: datetime | None) -> None:
    assert views.parse_as_of(text) == expected


def test_the_as_of_picker_refuses_what_is_not_a_time() -> None:
    with pytest.raises(ValueError, match="Invalid isoformat"):
        views.parse_as_of("yesterday")
    assert views.picker_value(datetime(2026, 3, 1, 10, 30, 59, tzinfo=UTC)) == "2026-03-01T10:30"
