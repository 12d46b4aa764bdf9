"""What the dashboard's pages show, made from query replies and stored events (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from events import FUNNEL, InteractionRecorded
from events.reading import Fresh
from projections.health.policy import BANDS
from services.gateway.dashboard import svg

if TYPE_CHECKING:
    from events.reading import Reading

BAND_NAMES: tuple[str, ...] = tuple(name for _, name in BANDS)
HEALTH_POINTS = 26  # a year, fortnightly
HEALTH_STEP = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class FunnelRow:
    """One stage of the funnel: there now, ever reached, and the share that went on."""

    stage: str
    now: int
    reached: int | None
    onward: float | None


def funnel_rows(reply: dict[str, Any]) -> list[FunnelRow]:
    """The funnel stages in order, then `closed` (which has no reach or conversion)."""
    ratios = reply.get("conversion", {})
    rows = []
    for index, stage in enumerate(FUNNEL):
        after = FUNNEL[index + 1].value if index + 1 < len(FUNNEL) else None
        rows.append(
            FunnelRow(
                stage=stage.value,
                now=int(reply["stages"].get(stage.value, 0)),
                reached=int(reply["reached"].get(stage.value, 0)),
                onward=ratios.get(f"{stage.value}->{after}") if after else None,
            )
        )
    rows.append(FunnelRow("closed", int(reply["stages"].get("closed", 0)), None, None))
    return rows


def funnel_chart(rows: list[FunnelRow]) -> str:
    """Bars of how many relationships ever reached each stage."""
    return svg.bars(
        [
            svg.Bar(row.stage, row.reached, tone="stage", text=f"{row.reached} ({row.now} now)")
            for row in rows
            if row.reached is not None
        ],
        title="Relationships that ever reached each stage (and are there now)",
    )


def band_chart(summary: dict[str, Any]) -> str:
    """Bars of how many relationships are in each health band."""
    counts = summary.get("bands", {})
    return svg.bars(
        [svg.Bar(name, int(counts.get(name, 0)), tone=name) for name in BAND_NAMES],
        title="Relationships by health band",
    )


def components_chart(health: dict[str, Any]) -> str:
    """Bars of the six health components, each 0 to 1."""
    return svg.bars(
        [
            svg.Bar(name, float(value), tone="component", text=f"{round(100 * float(value))}%")
            for name, value in health.get("components", {}).items()
        ],
        title="Health components (0 to 100%)",
        maximum=1.0,
    )


def health_instants(now: datetime) -> list[datetime]:
    """The instants of the health chart: a year back to now, a fortnight apart."""
    return [now - HEALTH_STEP * (HEALTH_POINTS - 1 - n) for n in range(HEALTH_POINTS)]


def health_chart(instants: list[datetime], scores: list[int | None]) -> str:
    """The health score over the year (gaps before the relationship began)."""
    points = [
        svg.Point(moment.date().isoformat(), score)
        for moment, score in zip(instants, scores, strict=True)
    ]
    return svg.line(points, title="Health score over the last year", zones=BANDS)


def overdue_days(due: str | None, now: datetime) -> int:
    """Whole days past `next_touch_due` (0 when not yet due)."""
    if not due:
        return 0
    return max(0, (now - datetime.fromisoformat(due)).days)


def names_of(stage_items: list[dict[str, Any]]) -> dict[str, str]:
    """Counterpart names by relationship id, from `stage.list` items."""
    names = {}
    for item in stage_items:
        name = (item.get("counterpart") or {}).get("name")
        if name:
            names[item["relationship_id"]] = str(name)
    return names


def due_rows(
    items: list[dict[str, Any]], names: dict[str, str], now: datetime
) -> list[dict[str, Any]]:
    """`health.list` items with the counterpart's name, the days overdue and what to do."""
    return [
        {
            **item,
            "name": item.get("name") or names.get(item["relationship_id"], item["relationship_id"]),
            "overdue": overdue_days(item.get("next_touch_due"), now),
            "action": next_action(item),
        }
        for item in items
    ]


@dataclass(frozen=True, slots=True)
class Action:
    """The one thing that fixes a due relationship, and the command that records it done."""

    text: str
    kind: str  # the interaction to record: `rapport log ID KIND`
    direction: str

    def command(self, relationship_id: str) -> str:
        """`rapport log` of the touch, once it happened."""
        return f"rapport log {relationship_id} {self.kind} --{self.direction}"


def next_action(item: dict[str, Any]) -> Action:
    """The touch that makes a due relationship current, shaped by what its contact lacked.

    Being due is a matter of recency, so the action is always a touch; health's `flags` say
    which kind serves best (a first email, a call after a bad patch, a meeting when shallow).
    """
    flags = set(item.get("flags") or ())
    if "no-contact" in flags:
        return Action("Make a first contact: a short, personal email", "email", "out")
    if "negative" in flags:
        return Action("Call them: recent contact was negative in tone", "call", "out")
    if "shallow" in flags:
        return Action("Book a call or a meeting: contact has been shallow", "meeting", "mutual")
    if "one-way" in flags:
        return Action("Get in touch and ask for their view: it has been one-way", "message", "out")
    return Action("Get in touch: a short message will do", "message", "out")


def week_ahead(now: datetime) -> tuple[datetime, datetime]:
    """The end of today and of the seventh day from today (UTC): what Today lists."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(days=1), midnight + timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Touch:
    """One interaction as the relationship page lists it."""

    time: datetime
    kind: str
    direction: str
    sentiment: float
    notes: str | None
    duration_minutes: int | None


def interactions(stored: list[Reading]) -> list[Touch]:
    """The relationship's interactions, newest first."""
    touches = [
        Touch(
            time=item.event.time.astimezone(UTC),
            kind=item.event.data.kind,
            direction=item.event.data.direction,
            sentiment=item.event.data.sentiment,
            notes=item.event.data.notes,
            duration_minutes=item.event.data.duration_minutes,
        )
        for item in stored
        if isinstance(item, Fresh) and isinstance(item.event, InteractionRecorded)
    ]
    return sorted(touches, key=lambda touch: touch.time, reverse=True)


def parse_as_of(text: str | None) -> datetime | None:
    """An instant from the as-of picker (`YYYY-MM-DDTHH:MM`, read as UTC) or RFC 3339."""
    if not text:
        return None
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def picker_value(moment: datetime) -> str:
    """An instant as a `datetime-local` input shows it (UTC, to the minute)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
