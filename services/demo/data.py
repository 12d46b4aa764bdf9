"""A realistic, reproducible demo dataset as CloudEvents envelopes (pure: no IO, no clock).

Relationships of three owners over the 18 months before `today`: handshakes, touches of
every kind, stage moves (skipped and backward ones with their reasons, closings, reopenings),
purposes, partner capacities and proposals in every lifecycle state. Each relationship
follows one of `PLANS` (a final stage and a mood), so every funnel stage and every health band
is populated. A few relationships end with a stage change that breaks a rule: those are in
`raw`, to be published straight to JetStream as a raw publisher would (the validated ingest
refuses them).

The same seed and day give the same events, and event ids are uuid5 of (seed, relationship,
n): seeding twice stores nothing new.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from events.envelope import new_envelope
from events.stages import FUNNEL, ORDER, Stage
from projections.health.policy import POLICY
from services.demo import vocabulary as words

DEFAULT_SEED = 7
SPAN_DAYS = 548  # 18 months
NAMESPACE = uuid.UUID("6f1c2a0e-3b7d-4f59-9a53-2f1f5a3c0b11")
MAX_TOUCHES = 40
ACTIVE_GAP_DAYS = 12.0  # mean days between touches before the recent mood set in
RAW_SHARE = 0.06  # relationships that end with a rule-breaking change from a raw publisher
STAGE_DAYS = {**POLICY.expected_stage_days, Stage.PARTNERSHIP: 90.0, Stage.CLOSED: 120.0}


@dataclass(frozen=True)
class Mood:
    """How a relationship has been going lately: it decides the health band it lands in."""

    silence: tuple[float, float]  # days since the last touch, in cadences of its stage
    gap: float  # mean days between recent touches, in cadences
    theirs: float  # share of recent touches that were inbound or mutual
    sentiment: tuple[float, float]
    deep: float  # share of meetings and calls
    dwell: tuple[float, float]  # time in the current stage, in its expected durations


MOODS: dict[str, Mood] = {
    "thriving": Mood((0.05, 0.3), 0.35, 0.85, (0.5, 0.95), 0.8, (0.2, 0.8)),
    "healthy": Mood((0.5, 1.0), 1.0, 0.5, (0.0, 0.5), 0.4, (0.5, 1.1)),
    "cooling": Mood((1.3, 2.0), 1.8, 0.35, (-0.2, 0.4), 0.3, (1.5, 2.5)),
    "at-risk": Mood((2.5, 4.0), 3.0, 0.15, (-0.6, 0.1), 0.15, (3.0, 6.0)),
    "dormant": Mood((8.0, 12.0), 4.0, 0.05, (-0.8, -0.2), 0.1, (6.0, 10.0)),
}
PLANS: tuple[tuple[Stage, str], ...] = (
    (Stage.CONNECTION, "thriving"),
    (Stage.CONNECTION, "cooling"),
    (Stage.CONNECTION, "dormant"),
    (Stage.AWARENESS, "healthy"),
    (Stage.AWARENESS, "at-risk"),
    (Stage.AWARENESS, "cooling"),
    (Stage.AWARENESS, "healthy"),
    (Stage.ENGAGEMENT, "thriving"),
    (Stage.ENGAGEMENT, "healthy"),
    (Stage.ENGAGEMENT, "at-risk"),
    (Stage.ENGAGEMENT, "cooling"),
    (Stage.ENGAGEMENT, "dormant"),
    (Stage.CONVERSION, "thriving"),
    (Stage.CONVERSION, "healthy"),
    (Stage.CONVERSION, "cooling"),
    (Stage.PARTNERSHIP, "thriving"),
    (Stage.PARTNERSHIP, "healthy"),
    (Stage.PARTNERSHIP, "cooling"),
    (Stage.CLOSED, "dormant"),
    (Stage.CLOSED, "at-risk"),
)


@dataclass(frozen=True)
class DemoData:
    """The dataset: events for the validated ingest (in time order) and raw rule-breakers."""

    anchor: datetime
    relationships: tuple[str, ...]
    events: list[dict[str, Any]]
    raw: list[dict[str, Any]]


def generate(today: date, *, relationships: int = 300, seed: int = DEFAULT_SEED) -> DemoData:
    """The demo dataset for `relationships` relationships, up to the start of `today` (UTC)."""
    anchor = datetime.combine(today, time(), UTC)
    events: list[dict[str, Any]] = []
    raw: list[dict[str, Any]] = []
    ids = tuple(f"rel-{n:03d}" for n in range(1, relationships + 1))
    for index, rel in enumerate(ids):
        # every block of len(PLANS) relationships holds each plan once, in a seeded order
        block = index // len(PLANS)
        order = random.Random(f"{seed}:block:{block}").sample(range(len(PLANS)), len(PLANS))
        final, mood = PLANS[order[index % len(PLANS)]]
        built = Relationship(rel, anchor, seed, random.Random(f"{seed}:{rel}"))
        built.build(final, MOODS[mood])
        events.extend(built.events)
        raw.extend(built.raw)
    # stable: events of one relationship in the same second keep their lifecycle order
    events.sort(key=lambda event: str(event["time"]))
    return DemoData(anchor, ids, events, raw)


def stamp(moment: datetime) -> str:
    """An RFC 3339 UTC time with whole seconds (sorts as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stage_path(final: Stage, rng: random.Random) -> list[tuple[Stage, str | None]]:
    """The moves from connection to `final`: (to, why), `why` a key of STAGE_REASONS or None."""
    if final == Stage.CLOSED:
        return [*stage_path(FUNNEL[rng.randrange(0, 4)], rng), (Stage.CLOSED, "close")]
    target, at = ORDER[final], 0
    moves: list[tuple[Stage, str | None]] = []
    if target in (1, 2) and rng.random() < 0.1:
        moves += [(Stage.AWARENESS, None), (Stage.CLOSED, "close"), (Stage.AWARENESS, "reopen")]
        at = 1
    skip_from = rng.randrange(at, target - 1) if target - at >= 2 and rng.random() < 0.15 else -1
    back_at = (
        rng.randrange(max(at + 1, 2), target + 1) if target >= 2 and rng.random() < 0.12 else -1
    )
    while at < target:
        at += 2 if at == skip_from else 1
        moves.append((FUNNEL[at], "skip" if skip_from >= 0 and at - 2 == skip_from else None))
        if at == back_at and skip_from < 0:
            moves += [(FUNNEL[at - 1], "back"), (FUNNEL[at], None)]
    return moves


@dataclass
class Relationship:
    """One relationship's events, built from its plan with its own seeded RNG."""

    rel: str
    anchor: datetime
    seed: int
    rng: random.Random
    events: list[dict[str, Any]] = field(default_factory=list)
    raw: list[dict[str, Any]] = field(default_factory=list)
    owner: str = ""
    count: int = 0

    def add(self, kind: str, at: datetime, data: dict[str, Any], source: str) -> dict[str, Any]:
        """Append an envelope of type `rapport.<kind>` at `at`."""
        self.count += 1
        event = new_envelope(
            kind,
            self.rel,
            data,
            event_id=str(uuid.uuid5(NAMESPACE, f"{self.seed}:{self.rel}:{self.count}")),
            time=stamp(at),
            source=source,
            actor=self.owner,
        )
        self.events.append(event)
        return event

    def days(self, low: float, high: float) -> timedelta:
        """A random span between `low` and `high` days."""
        return timedelta(days=self.rng.uniform(low, high))

    def build(self, final: Stage, mood: Mood) -> None:
        """Every event of the relationship, for a final stage and a recent mood."""
        rng = self.rng
        self.owner = rng.choices(words.OWNERS, weights=(0.45, 0.35, 0.2))[0]
        moves = stage_path(final, rng)
        cadence = POLICY.cadence_days[final]
        silence = timedelta(days=cadence * rng.uniform(*mood.silence))
        last_touch = self.anchor - silence - self.days(0, 0.4)
        if final == Stage.CLOSED:  # closed some while after the last touch
            entered = last_touch + silence * rng.uniform(0.2, 0.8)
        elif final == Stage.PARTNERSHIP:
            entered = self.anchor - self.days(20, 300)
        else:
            entered = self.anchor - timedelta(days=STAGE_DAYS[final] * rng.uniform(*mood.dwell))
        # a long-stalled stage still began within the 18 months, after the earlier moves
        entered = max(entered, self.anchor - timedelta(days=SPAN_DAYS - 4 * (len(moves) + 1)))
        entries = self.stage_times(moves, entered)
        opened = (
            entries[0] - self.days(0.3, 1.1) * STAGE_DAYS[Stage.CONNECTION] if moves else entered
        )
        # at least one touch after the handshake, and all of it within the 18 months
        opened = min(opened, last_touch - self.days(1, 10))
        opened = max(opened, self.anchor - timedelta(days=SPAN_DAYS))
        self.connect(opened)
        self.touches(opened, last_touch, mood, cadence)
        stage = Stage.CONNECTION
        for (to, why), at in zip(moves, entries, strict=True):
            self.move(stage, to, why, at)
            stage = to
        self.purpose(opened)
        reached = dict(zip((to for to, _ in moves), entries, strict=True))
        if Stage.ENGAGEMENT in reached and rng.random() < 0.75:
            self.capacity(reached[Stage.ENGAGEMENT])
        self.proposals(final, reached)
        if final != Stage.CLOSED and rng.random() < RAW_SHARE:
            self.rule_breaker(final, entered)

    def stage_times(
        self, moves: list[tuple[Stage, str | None]], entered: datetime
    ) -> list[datetime]:
        """When each move happened: the last at `entered`, earlier ones spaced by stage."""
        earliest = self.anchor - timedelta(days=SPAN_DAYS - 3)
        times = [entered]
        stage_before = [Stage.CONNECTION, *(to for to, _ in moves[:-1])]
        for stage in reversed(stage_before[1:]):
            times.append(times[-1] - self.days(0.3, 1.1) * STAGE_DAYS[stage])
        times.reverse()
        if times[0] < earliest:  # squeeze the history into the 18 months
            span = (entered - earliest) / max(1, len(times))
            times = [earliest + span * (n + 1) for n in range(len(times))]
        return times[: len(moves)]

    def connect(self, opened: datetime) -> None:
        """The handshake: a person or an organization, tagged, maybe with a purpose."""
        rng = self.rng
        first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES)
        organization = rng.choice(words.ORGANIZATIONS)
        counterpart: dict[str, Any] = {"tags": rng.sample(words.TAGS, rng.randint(1, 3))}
        if rng.random() < 0.25:
            counterpart.update(name=organization, kind="organization")
        else:
            domain = organization.lower().replace(" & ", "-").replace(" ", "-")
            counterpart.update(
                name=f"{first} {last}",
                kind="person",
                organization=organization,
                email=f"{first.lower()}.{last.split()[-1].lower()}@{domain}.example",
            )
        data: dict[str, Any] = {
            "owner": self.owner,
            "counterpart": counterpart,
            "channel": rng.choice(words.CHANNELS),
        }
        if data["channel"] == "introduction":
            data["introduced_by"] = (
                f"{rng.choice(words.FIRST_NAMES)} {rng.choice(words.LAST_NAMES)}"
            )
        if rng.random() < 0.3:
            data["purpose"] = rng.choice(words.PURPOSES)
        self.add("connection.made", opened, data, "crm-sync")

    def touches(self, opened: datetime, last: datetime, mood: Mood, cadence: float) -> None:
        """Interactions from the handshake to the last touch; the recent ones follow the mood."""
        rng = self.rng
        recent_since = last - timedelta(days=90)
        moments: list[datetime] = []
        at = last
        while at > opened and len(moments) < MAX_TOUCHES:
            moments.append(at)
            mean = mood.gap * min(cadence, 30) if at > recent_since else ACTIVE_GAP_DAYS
            at -= timedelta(days=max(0.3, rng.expovariate(1 / max(mean, 1.0))))
        if rng.random() < 0.7 and len(moments) < MAX_TOUCHES:
            moments.append(opened + self.days(0.01, 0.5))
        for moment in sorted(moments):
            recent = moment > recent_since
            theirs = mood.theirs if recent else 0.55
            deep = mood.deep if recent else 0.45
            low, high = mood.sentiment if recent else (-0.1, 0.6)
            self.touch(moment, theirs, deep, (low, high))

    def touch(
        self, at: datetime, theirs: float, deep: float, sentiment: tuple[float, float]
    ) -> None:
        """One interaction with a kind, direction and tone drawn from the mood."""
        rng = self.rng
        if rng.random() < deep:
            kind = rng.choice(("meeting", "meeting", "call"))
        else:
            kind = rng.choice(("email", "email", "message", "event", "social", "intro"))
        roll = rng.random()
        direction = "outbound" if roll >= theirs else ("mutual" if roll < theirs / 2 else "inbound")
        if kind == "meeting" and direction != "outbound":
            direction = "mutual"
        data: dict[str, Any] = {
            "kind": kind,
            "direction": direction,
            "sentiment": round(rng.uniform(*sentiment), 2),
            "value": rng.choice(("gave", "received", "exchanged", "none")),
        }
        if kind in ("meeting", "call"):
            data["duration_minutes"] = rng.choice((15, 20, 30, 45, 60, 90))
        if rng.random() < 0.6:
            data["notes"] = rng.choice(words.NOTES[kind if kind in words.NOTES else "email"])
        source = {"meeting": "calendar", "call": "calendar", "email": "mailer"}
        self.add("interaction.recorded", at, data, source.get(kind, "rapport-demo"))

    def move(self, current: Stage, to: Stage, why: str | None, at: datetime) -> None:
        """A validated stage change (with the reason the rules ask for)."""
        data: dict[str, Any] = {"to": to.value}
        if self.rng.random() < 0.8:
            data["from"] = current.value
        if why is not None:
            data["reason"] = self.rng.choice(words.STAGE_REASONS[why])
        elif self.rng.random() < 0.25:
            data["reason"] = self.rng.choice(words.STAGE_REASONS["forward"])
        self.add("stage.changed", at, data, "rapport-cli")

    def purpose(self, opened: datetime) -> None:
        """Most relationships get a purpose soon after the handshake; some refine it later."""
        if self.rng.random() >= 0.85:
            return
        at = min(opened + self.days(1, 20), self.anchor - self.days(0.1, 1))
        self.add("purpose.set", at, {"purpose": self.rng.choice(words.PURPOSES)}, "rapport-cli")
        if self.rng.random() < 0.25:
            later = at + (self.anchor - at) * self.rng.uniform(0.3, 0.9)
            target = (self.anchor + self.days(30, 300)).date().isoformat()
            data = {"purpose": self.rng.choice(words.PURPOSES), "target_date": target}
            self.add("purpose.set", later, data, "rapport-cli")

    def capacity(self, engaged: datetime) -> None:
        """What the partner can take on, from when, and their goals (sometimes updated)."""
        at = engaged + (self.anchor - engaged) * self.rng.uniform(0.05, 0.5)
        for _ in range(2 if self.rng.random() < 0.3 else 1):
            data: dict[str, Any] = {
                "capacity": self.rng.choices(("low", "medium", "high"), weights=(2, 3, 3))[0],
                "available_from": (self.anchor + self.days(-120, 150)).date().isoformat(),
                "goals": self.rng.sample(words.GOALS, self.rng.randint(1, 3)),
            }
            if self.rng.random() < 0.3:
                data["notes"] = "mentioned over coffee"
            self.add("capacity.noted", at, data, "rapport-cli")
            at = at + (self.anchor - at) * self.rng.uniform(0.3, 0.8)

    def proposals(self, final: Stage, reached: dict[Stage, datetime]) -> None:
        """Proposals by where the relationship got to, each following its lifecycle."""
        rng, anchor = self.rng, self.anchor
        conversion = reached.get(Stage.CONVERSION)
        if final == Stage.PARTNERSHIP and conversion is not None:
            partnered = reached[Stage.PARTNERSHIP]
            if rng.random() < 0.9:
                self.proposal(conversion, partnered, ("drafted", "submitted", "accepted"))
            if rng.random() < 0.4:
                follow_up = rng.choice(((), ("submitted",), ("withdrawn",)))
                self.proposal(partnered, anchor, ("drafted", *follow_up))
        elif final == Stage.CONVERSION and conversion is not None:
            outcome = rng.choices(
                (("submitted",), (), ("submitted", "declined"), ("withdrawn",)),
                weights=(35, 25, 20, 20),
            )[0]
            self.proposal(conversion, anchor, ("drafted", *outcome), fresh=not outcome)
            if outcome and outcome[-1] in ("declined", "withdrawn") and rng.random() < 0.5:
                self.proposal(anchor - self.days(5, 12), anchor, ("drafted",), fresh=True)
        elif final == Stage.ENGAGEMENT and rng.random() < 0.3:
            steps = ("drafted", "withdrawn") if rng.random() < 0.3 else ("drafted",)
            self.proposal(reached.get(Stage.ENGAGEMENT, anchor - self.days(30, 60)), anchor, steps)
        elif final == Stage.CLOSED and conversion is not None:
            self.proposal(conversion, reached[Stage.CLOSED], ("drafted", "submitted", "declined"))

    def proposal(
        self, start: datetime, end: datetime, steps: tuple[str, ...], *, fresh: bool = False
    ) -> None:
        """One proposal whose lifecycle `steps` happen in order between `start` and `end`."""
        rng = self.rng
        title, kind = rng.choice(words.PROPOSALS)
        number = sum(1 for e in self.events if e["type"] == "rapport.proposal.drafted") + 1
        proposal_id = f"{self.rel}-p{number}"
        goals = rng.sample(words.GOALS, rng.randint(1, 3))
        capacity = [e for e in self.events if e["type"] == "rapport.capacity.noted"]
        if capacity and rng.random() < 0.6:  # aligned with what the partner said they want
            goals = list(capacity[-1]["data"]["goals"])[: rng.randint(1, 3)]
        drafted = {
            "proposal_id": proposal_id,
            "title": title,
            "kind": kind,
            "ask": f"{title} with {self.rel}: a small first step, then a review.",
            "goals": goals,
            "proposed_start": (self.anchor + self.days(-20, 180)).date().isoformat(),
        }
        span = end - start
        low = 0.75 if fresh else 0.1  # a fresh draft is recent
        fractions = sorted(rng.uniform(low, 0.95) for _ in steps)
        for step, fraction in zip(steps, fractions, strict=True):
            at = start + span * fraction
            if step == "drafted":
                self.add("proposal.drafted", at, drafted, "rapport-cli")
                continue
            data: dict[str, Any] = {"proposal_id": proposal_id}
            if step == "declined":
                data["reason"] = rng.choice(words.DECLINE_REASONS)
            elif step == "withdrawn":
                data["reason"] = rng.choice(words.WITHDRAW_REASONS)
            self.add(f"proposal.{step}", at, data, "rapport-cli")

    def rule_breaker(self, current: Stage, entered: datetime) -> None:
        """A stage change that breaks a rule, as a raw publisher (an old import) would send."""
        options: list[dict[str, Any]] = []
        order = ORDER[current]
        if order + 2 < len(FUNNEL):  # skip without a reason
            options.append({"to": FUNNEL[order + 2].value, "from": current.value})
        if order >= 1:  # back without a reason
            options.append({"to": FUNNEL[order - 1].value})
            # stale `from`: the writer still thinks it is one stage earlier
            ahead = FUNNEL[order + 1].value if order + 1 < len(FUNNEL) else Stage.CLOSED.value
            options.append(
                {"to": ahead, "from": FUNNEL[order - 1].value, "reason": "moving on as agreed"}
            )
        at = entered + (self.anchor - entered) * self.rng.uniform(0.3, 0.9)
        event = self.add("stage.changed", at, self.rng.choice(options), "legacy-crm-import")
        event["actor"] = "import-bot@example.com"
        self.raw.append(self.events.pop())
