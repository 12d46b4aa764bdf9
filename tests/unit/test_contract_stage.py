"""Stage rules, the stage projection, the funnel and the audit, as the contract states them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from events import Stage, parse_event
from events.data import StageChangedData  # the public schema's model of the change
from events.stage_rules import check
from projections.audit import audit
from projections.health import fold as health
from projections.latest import later
from projections.proposals import fold as proposals
from projections.stage.fold import StageView, apply, funnel_contribution, funnel_reply, up_to
from tests.factories import BASE_TIME, event


def at(days: float) -> datetime:
    return BASE_TIME + timedelta(days=days)


def typed(*envelopes: dict[str, Any]) -> list[Any]:
    return [parse_event(orjson.dumps(e)) for e in envelopes]


def fold(*envelopes: dict[str, Any]) -> StageView:
    view = None
    for seq, e in enumerate(typed(*envelopes), start=1):
        view = apply(view, e, seq)
    assert view is not None
    return view


def change(to: str, day: float = 0, event_id: str | None = None, **data: Any) -> dict[str, Any]:
    fields = {"to": to, **data}
    return event("stage.changed", "r", fields, days=day, event_id=event_id, actor="maria")


# -- the rules' words ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "data", "why"),
    [
        (Stage.AWARENESS, {"to": "closed"}, "closing a relationship needs a reason"),
        (Stage.ENGAGEMENT, {"to": "awareness"}, "moving back from engagement to awareness needs a reason"),
        (Stage.AWARENESS, {"to": "awareness"}, "no change: the relationship is already at awareness"),
        (Stage.CONNECTION, {"to": "conversion"}, "skipping awareness, engagement (from connection to conversion) needs a reason"),
        (Stage.AWARENESS, {"to": "engagement", "from": "connection"}, "conflict: the change says from connection, but the relationship is at awareness"),
        (Stage.AWARENESS, {"to": "awareness", "from": "connection"}, "conflict: the change says from connection, but the relationship is at awareness; no change: the relationship is already at awareness"),
    ],
)  # fmt: skip
def test_a_rejected_change_says_why(current: Stage, data: dict[str, Any], why: str) -> None:
    verdict = check(current, StageChangedData.model_validate_json(orjson.dumps(data)))
    assert not verdict.accepted
    assert verdict.reason == why


def test_every_step_back_and_every_skip_is_flagged() -> None:
    funnel = [
        Stage.CONNECTION,
        Stage.AWARENESS,
        Stage.ENGAGEMENT,
        Stage.CONVERSION,
        Stage.PARTNERSHIP,
    ]
    for i, current in enumerate(funnel):
        for j, to in enumerate(funnel):
            verdict = check(current, StageChangedData(to=to, reason="agreed"))
            if j < i:
                assert verdict.flags == ("backward",)
            elif j == i + 1:
                assert verdict.flags == ()
            elif j > i + 1:
                assert verdict.flags == ("skipped:" + "+".join(s.value for s in funnel[i + 1 : j]),)
            assert verdict.accepted is (i != j)


# -- the stage projection -----------------------------------------------------------------------


def test_stage_get_reply() -> None:
    view = fold(event("connection.made", "r", days=0), change("awareness", 2))
    assert view.reply() == {
        "relationship_id": "r",
        "stage": "awareness",
        "level": "relationship",
        "since": "2026-01-07T09:00:00+00:00",
        "owner": "maria@example.com",
        "counterpart": {"name": "Ada Lovelace", "kind": "person", "tags": ["math"]},
        "implicit": False,
        "opened_at": "2026-01-05T09:00:00+00:00",
        "rejected_changes": 0,
    }


def test_a_handshake_after_an_implicit_opening_names_owner_and_counterpart() -> None:
    hello = event("connection.made", "r", days=1)
    hello["data"] = {
        "owner": "bo@example.com",
        "counterpart": {"name": "Acme", "kind": "organization", "email": "hi@acme.io"},
    }
    view = fold(event("interaction.recorded", "r", days=0), hello)
    assert (view.owner, view.implicit) == ("bo@example.com", False)
    assert view.counterpart == {
        "name": "Acme",
        "kind": "organization",
        "email": "hi@acme.io",
        "tags": [],
    }
    assert view.relationship_id == "r"
    assert view.opened_at == at(0)
    implicit = fold(event("interaction.recorded", "r", days=0))
    assert implicit.reply()["implicit"] is True
    assert implicit.reply()["owner"] is None
    assert implicit.reply()["counterpart"] is None


def test_reached_stages() -> None:
    assert up_to(Stage.CONVERSION) == {
        Stage.CONNECTION,
        Stage.AWARENESS,
        Stage.ENGAGEMENT,
        Stage.CONVERSION,
    }
    assert up_to(Stage.CLOSED) == frozenset()
    view = fold(
        event("connection.made", "r"),
        change("conversion", 1, reason="warm intro"),
        change("closed", 2, reason="gone"),
    )
    assert view.reached == {Stage.CONNECTION, Stage.AWARENESS, Stage.ENGAGEMENT, Stage.CONVERSION}


def test_funnel_counts_per_owner() -> None:
    implicit = fold(event("interaction.recorded", "r"))
    assert funnel_contribution(implicit) == {
        ("", "now", "connection"): 1,
        ("", "reached", "connection"): 1,
    }
    assert funnel_contribution(None) == {}


def test_an_empty_funnel() -> None:
    assert funnel_reply({}) == {
        "stages": {"connection": 0, "awareness": 0, "engagement": 0, "conversion": 0,
                   "partnership": 0, "closed": 0},
        "reached": {"connection": 0, "awareness": 0, "engagement": 0, "conversion": 0,
                    "partnership": 0},
        "conversion": {"connection->awareness": None, "awareness->engagement": None,
                       "engagement->conversion": None, "conversion->partnership": None},
    }  # fmt: skip


def test_a_later_mark_replaces_an_earlier_one_never_itself() -> None:
    assert later((1.0, "a"), None)
    assert later((2.0, "a"), (1.0, "b"))
    assert later((1.0, "b"), (1.0, "a"))  # the id breaks a tie
    assert not later((1.0, "a"), (1.0, "b"))
    assert not later((1.0, "a"), (1.0, "a"))


def test_every_projection_names_the_same_owner() -> None:
    later_handshake = event("connection.made", "r", days=5)
    earlier_handshake = event("connection.made", "r", days=1)
    earlier_handshake["data"] = {**earlier_handshake["data"], "owner": "bo@example.com"}
    events = typed(later_handshake, earlier_handshake)  # the earlier one arrives late
    stage_view, health_state, context = None, None, None
    for seq, e in enumerate(events, start=1):
        stage_view = apply(stage_view, e, seq)
        health_state = health.apply(health_state, e, seq)
        context = proposals.apply(context, e, seq)
    assert stage_view is not None and health_state is not None and context is not None  # noqa: PT018
    assert health_state.owner == "maria@example.com"  # the latest handshake's
    assert stage_view.owner == health_state.owner
    assert context.owner == health_state.owner


# -- the audit ----------------------------------------------------------------------------------


def audited(*envelopes: dict[str, Any]) -> list[dict[str, Any]]:
    events = list(enumerate(typed(*envelopes), start=1))
    return [c.reply() for c in audit("r", events).changes]


def test_the_audit_reply() -> None:
    events = list(
        enumerate(
            typed(
                event("connection.made", "r"),
                change("awareness", 1, reason="met at the fair", event_id="s-1"),
                change("partnership", 2, **{"from": "connection"}, event_id="s-2"),
            ),
            start=1,
        )
    )
    result = audit("r", events)
    assert result.events == 3
    assert result.reply() == {
        "relationship_id": "r",
        "stage": "awareness",
        "changes": [
            {
                "seq": 2,
                "time": "2026-01-06T09:00:00+00:00",
                "from": "connection",
                "to": "awareness",
                "reason": "met at the fair",
                "actor": "maria",
                "source": "tests",
                "accepted": True,
                "flags": [],
                "claimed_from": None,
                "event_id": "s-1",
                "rejected_because": None,
            },
            {
                "seq": 3,
                "time": "2026-01-07T09:00:00+00:00",
                "from": "awareness",
                "to": "partnership",
                "reason": None,
                "actor": "maria",
                "source": "tests",
                "accepted": False,
                "flags": [
                    "from-mismatch",
                    "skipped:engagement+conversion",
                    "missing-reason",
                    "no-accepted-proposal",
                ],
                "claimed_from": "connection",
                "event_id": "s-2",
                "rejected_because": "conflict: the change says from connection, but the "
                "relationship is at awareness; skipping engagement, conversion (from awareness "
                "to partnership) needs a reason",
            },
        ],
    }


def test_a_change_to_the_current_stage_names_no_evidence_gap() -> None:
    flags = [
        c["flags"]
        for c in audited(change("awareness", 1), change("engagement", 2), change("engagement", 3))
    ]
    assert flags == [[], ["no-inbound-interaction"], ["no-change"]]


def test_only_an_accepted_proposal_is_evidence_for_a_partnership() -> None:
    steps = [change("awareness", 1), change("engagement", 2, reason="x"), change("conversion", 3)]
    drafted = event("proposal.drafted", "r", {"proposal_id": "p-1", "title": "T"})
    elsewhere = event("proposal.accepted", "r", {"proposal_id": "p-2"})
    this_one = event("proposal.accepted", "r", {"proposal_id": "p-1"})
    unproven = audited(*steps, drafted, elsewhere, change("partnership", 4))
    assert unproven[-1]["flags"] == ["no-accepted-proposal"]
    proven = audited(*steps, drafted, this_one, change("partnership", 4))
    assert proven[-1]["flags"] == []


def test_a_purpose_given_at_the_handshake_is_evidence() -> None:
    hello = event("connection.made", "r")
    steps = [change("awareness", 1), change("engagement", 2, reason="x"), change("conversion", 3)]
    assert audited(hello, *steps)[-1]["flags"] == ["no-purpose"]
    hello["data"] = {**hello["data"], "purpose": "co-teach"}
    assert audited(hello, *steps)[-1]["flags"] == []
