"""Notices derived from a projection's states before and after, their ids, and their filters.

The expected notices are worked out by hand from the contract (stage rules, the proposal
lifecycle, the health bands of a hand-scored case), not read back from the rules under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from events import Event, parse_event
from events.notices import (
    KINDS,
    Notice,
    kinds_of,
    notice_id,
    owner_matches,
    read_notice,
    touch_due_cause,
)
from events.subjects import notice_filter, notice_subject
from projections.health import fold as health_fold
from projections.health.notices import HealthNotices, band_at, touch_due_notice
from projections.health.score import assess, touch_due
from projections.proposals import fold as proposals_fold
from projections.proposals.notices import ProposalNotices
from projections.stage import fold as stage_fold
from projections.stage.notices import StageNotices
from tests.factories import event

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from projections.notices import NoticeRules

DAY = 86_400.0
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def parsed(envelope: dict[str, Any]) -> Event:
    return parse_event(orjson.dumps(envelope))


def each_event(
    fold: Callable[[Any, Event, int], Any], rules: NoticeRules[Any], envelopes: Sequence[Any]
) -> list[Notice]:
    """Fold envelopes one by one, as the runner does, collecting the per-event notices."""
    state, found = None, []
    for seq, envelope in enumerate(envelopes, start=1):
        current = parsed(envelope)
        after = fold(state, current, seq)
        notice = rules.after_event(state, current, seq, after)
        if notice is not None:
            found.append(notice)
        state = after
    return found


# -- ids, subjects, envelopes ----------------------------------------------------------------


def test_ids_are_derived_from_the_cause_and_stable() -> None:
    assert notice_id("stage.changed", "ev-1") == "stage.changed:ev-1"
    assert notice_id("stage.changed", "ev-1") != notice_id("stage.changed", "ev-2")
    assert notice_id("stage.changed", "ev-1") != notice_id("proposal.decided", "ev-1")
    due = datetime(2026, 12, 1, 9, 30, tzinfo=UTC).timestamp()
    assert touch_due_cause("rel-1", due) == "rel-1@2026-12-01T09:30:00Z"


def test_subjects_and_filters_of_notices() -> None:
    assert (
        notice_subject("rel-1", "health.band.changed") == "rapport.notice.rel-1.health.band.changed"
    )
    assert notice_filter() == "rapport.notice.>"
    assert notice_filter("rel-1") == "rapport.notice.rel-1.>"
    assert notice_filter(None, "touch.due") == "rapport.notice.*.touch.due"
    assert notice_filter("rel-1", "touch.due") == "rapport.notice.rel-1.touch.due"


def test_each_projection_announces_its_own_kinds() -> None:
    assert kinds_of("stage") == ("stage.changed",)
    assert kinds_of("health") == ("health.band.changed", "touch.due")
    assert kinds_of("proposals") == ("proposal.decided",)
    assert sorted(KINDS) == sorted(
        [*kinds_of("stage"), *kinds_of("health"), *kinds_of("proposals")]
    )


def test_a_notice_is_a_cloudevent_that_reads_back() -> None:
    notice = Notice("stage.changed:e1", "stage.changed", "rel-1", 1_700_000_000.0, {"owner": "m"})
    body = orjson.loads(notice.body())
    assert body == {
        "specversion": "1.0",
        "id": "stage.changed:e1",
        "source": "rapport/stage",
        "type": "rapport.notice.stage.changed",
        "subject": "rel-1",
        "time": "2023-11-14T22:13:20Z",
        "datacontenttype": "application/json",
        "data": {"owner": "m"},
    }
    read = read_notice(notice.body())
    assert read is not None
    assert (read.kind, read.owner) == ("stage.changed", "m")
    for junk in (b"", b"[]", b"{", b'{"id": 1}', b"\xff"):
        assert read_notice(junk) is None


@pytest.mark.parametrize(
    ("wanted", "owner", "matches"),
    [
        ("maria@example.com", "maria@example.com", True),
        ("maria", "maria@example.com", True),
        ("maria", "maria", True),
        ("maria", "mariam@example.com", False),
        ("maria@example.com", "maria", False),
        ("maria", None, False),
    ],
)
def test_owner_filter_reads_like_every_other(wanted: str, owner: str | None, matches: bool) -> None:
    assert owner_matches(wanted, owner) is matches


# -- stage.changed ----------------------------------------------------------------------------


def test_every_stage_change_is_announced_with_its_verdict() -> None:
    envelopes = [
        event("connection.made", "r", days=0),
        event("stage.changed", "r", {"to": "awareness"}, days=1, event_id="s1"),
        event("interaction.recorded", "r", days=2),
        event("stage.changed", "r", {"to": "conversion"}, days=3, event_id="s2"),
        event("stage.changed", "r", {"to": "awareness"}, days=4, event_id="s3"),
        event(
            "stage.changed", "r", {"to": "closed", "reason": "moved away"}, days=5, event_id="s4"
        ),
    ]
    notices = each_event(stage_fold.apply, StageNotices(), envelopes)
    assert [n.id for n in notices] == [f"stage.changed:s{n}" for n in (1, 2, 3, 4)]
    got = [
        (n.data["from"], n.data["to"], n.data["verdict"], n.data["flags"], n.data["stage"])
        for n in notices
    ]
    assert got == [
        ("connection", "awareness", "accepted", [], "awareness"),
        (
            "awareness",
            "conversion",
            "rejected",
            ["skipped:engagement", "missing-reason"],
            "awareness",
        ),
        ("awareness", "awareness", "rejected", ["no-change"], "awareness"),
        ("awareness", "closed", "accepted", [], "closed"),
    ]
    assert notices[1].data["why"] == (
        "skipping engagement (from awareness to conversion) needs a reason"
    )
    assert notices[0].data["why"] is None
    assert {n.data["owner"] for n in notices} == {"maria@example.com"}
    assert [n.data["seq"] for n in notices] == [2, 4, 5, 6]
    assert notices[0].subject == "rapport.notice.r.stage.changed"
    assert "reason" not in notices[3].data  # free text stays out of notices


def test_a_first_event_that_changes_the_stage_is_judged_from_connection() -> None:
    envelopes = [event("stage.changed", "r", {"to": "engagement"}, event_id="s1")]
    [notice] = each_event(stage_fold.apply, StageNotices(), envelopes)
    assert (notice.data["from"], notice.data["verdict"]) == ("connection", "rejected")
    assert notice.data["owner"] is None  # opened implicitly: nobody holds it yet


def test_other_events_announce_no_stage_change() -> None:
    envelopes = [event("connection.made", "r"), event("interaction.recorded", "r", days=1)]
    assert each_event(stage_fold.apply, StageNotices(), envelopes) == []


# -- proposal.decided -------------------------------------------------------------------------


def test_decisions_the_lifecycle_accepts_are_announced_once() -> None:
    envelopes = [
        event("connection.made", "r"),
        event("proposal.drafted", "r", {"proposal_id": "p1", "title": "T"}, days=1),
        event("proposal.submitted", "r", {"proposal_id": "p1"}, days=2),
        event("proposal.accepted", "r", {"proposal_id": "p1"}, days=3, event_id="d1"),
        event("proposal.accepted", "r", {"proposal_id": "p1"}, days=4, event_id="d2"),  # no-change
        event("proposal.declined", "r", {"proposal_id": "p1"}, days=5, event_id="d3"),  # decided
        event("proposal.withdrawn", "r", {"proposal_id": "p9"}, days=6, event_id="d4"),  # unknown
        event("proposal.drafted", "r", {"proposal_id": "p2", "title": "U"}, days=7),
        event("proposal.declined", "r", {"proposal_id": "p2"}, days=8, event_id="d5"),  # a draft
        event("proposal.drafted", "r", {"proposal_id": "p3", "title": "V"}, days=9),
        event("proposal.withdrawn", "r", {"proposal_id": "p3"}, days=10, event_id="d6"),
    ]
    notices = each_event(proposals_fold.apply, ProposalNotices(), envelopes)
    got = [(n.id, n.data["proposal_id"], n.data["decision"], n.data["flags"]) for n in notices]
    assert got == [
        ("proposal.decided:d1", "p1", "accepted", []),
        ("proposal.decided:d5", "p2", "declined", ["unsubmitted"]),
        ("proposal.decided:d6", "p3", "withdrawn", []),
    ]
    assert all("title" not in n.data for n in notices)


# -- health.band.changed ----------------------------------------------------------------------


def health_state(*envelopes: dict[str, Any]) -> health_fold.HealthState:
    state = None
    for seq, envelope in enumerate(envelopes, start=1):
        state = health_fold.apply(state, parsed(envelope), seq)
    assert state is not None
    return state


def test_a_touch_after_long_silence_moves_dormant_to_healthy() -> None:
    # By hand at NOW: opened 400 days ago, no touch: sentiment 0.5, momentum 14/400, the rest 0
    # -> 100 x (0.10 x 0.5 + 0.15 x 0.035) = 5.5 -> 6, dormant. One mutual meeting (sentiment
    # 0.6) right now: recency 1, frequency 1 - 4^(-1/6.69) = 0.187, reciprocity 1,
    # sentiment 0.8, depth 1 -> 30 + 3.7 + 15 + 8 + 10 + 0.5 = 67, healthy.
    opened = event("connection.made", "r", at=NOW - timedelta(days=400))
    met = event(
        "interaction.recorded",
        "r",
        {"kind": "meeting", "direction": "mutual", "sentiment": 0.6},
        at=NOW,
        event_id="m1",
    )
    before, after = health_state(opened), health_state(opened, met)
    now = NOW.timestamp()
    assert (band_at(before, now), band_at(after, now)) == ("dormant", "healthy")
    rules = HealthNotices()
    [notice] = rules.after_batch({"r": (before, after)}, {"r": (2, parsed(met))}, now)
    assert notice.id == "health.band.changed:m1"
    assert (notice.data["from"], notice.data["to"], notice.data["score"]) == (
        "dormant",
        "healthy",
        67,
    )
    assert notice.data["reasons"] == assess(after, NOW).reasons
    assert notice.data["owner"] == "maria@example.com"
    assert notice.time == now


def test_no_band_notice_without_a_crossing_or_for_a_first_batch() -> None:
    opened = event("connection.made", "r", at=NOW - timedelta(days=400))
    emailed = event(
        "interaction.recorded", "r", {"kind": "email", "direction": "outbound"},
        at=NOW - timedelta(days=300), event_id="e1",
    )  # fmt: skip
    before, after = health_state(opened), health_state(opened, emailed)
    now = NOW.timestamp()
    assert band_at(before, now) == band_at(after, now) == "dormant"  # a year-old email is nothing
    rules = HealthNotices()
    assert rules.after_batch({"r": (before, after)}, {"r": (2, parsed(emailed))}, now) == []
    assert rules.after_batch({"r": (None, after)}, {"r": (2, parsed(emailed))}, now) == []


def test_the_band_after_a_batch_is_the_band_before_the_next() -> None:
    opened = event("connection.made", "r", at=NOW - timedelta(days=400))
    met = event("interaction.recorded", "r", at=NOW, event_id="m1")
    first, second = health_state(opened), health_state(opened, met)
    now = NOW.timestamp()
    rules = HealthNotices()
    # the first batch left it dormant (remembered); the second moves it
    assert rules.after_batch({"r": (None, first)}, {"r": (1, parsed(opened))}, now) == []
    [notice] = rules.after_batch({"r": (first, second)}, {"r": (2, parsed(met))}, now + 1)
    assert notice.data["from"] == "dormant"
    rules.forget()
    assert rules.after_batch({"r": (second, second)}, {"r": (3, parsed(met))}, now + 2) == []


def test_a_closed_relationship_is_in_no_band() -> None:
    opened = event("connection.made", "r", at=NOW - timedelta(days=10))
    closed = event(
        "stage.changed", "r", {"to": "closed", "reason": "gone"}, at=NOW - timedelta(days=1)
    )
    state = health_state(opened, closed)
    assert band_at(state, NOW.timestamp()) is None
    assert touch_due(state) is None  # never due, so never announced


@pytest.mark.parametrize("days_ago", [0, 3, 8, 30, 90, 400])
def test_band_at_agrees_with_the_full_assessment(days_ago: int) -> None:
    opened = event("connection.made", "r", at=NOW - timedelta(days=days_ago + 20))
    touched = event("interaction.recorded", "r", at=NOW - timedelta(days=days_ago))
    state = health_state(opened, touched)
    assert band_at(state, NOW.timestamp()) == assess(state, NOW).band


# -- touch.due ----------------------------------------------------------------------------------


def test_a_touch_due_notice_names_the_due_instant() -> None:
    opened = event("connection.made", "r", at=NOW - timedelta(days=7))
    state = health_state(opened)
    due = touch_due(state)
    assert due == NOW.timestamp()  # a new connection: one week after the handshake
    notice = touch_due_notice(state, due, due + 0.5)
    assert notice.id == "touch.due:r@2026-12-01T12:00:00Z"
    assert notice.time == due
    assert notice.data["due"] == "2026-12-01T12:00:00Z"
    assert notice.data["stage"] == "connection"
    assert notice.data["owner"] == "maria@example.com"
    assert notice.data["last_interaction_at"] is None
    assert notice.subject == "rapport.notice.r.touch.due"
    assert "name" not in notice.data
