"""The stage fold: opening, stage rules in stream order, and funnel counts kept by deltas."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from events import Stage, parse_event
from projections.stage.fold import StageView, apply, funnel_contribution, funnel_delta, funnel_reply
from tests.factories import event


def fold(*envelopes: dict[str, Any]) -> StageView | None:
    view = None
    for seq, envelope in enumerate(envelopes, start=1):
        view = apply(view, parse_event(orjson.dumps(envelope)), seq)
    return view


def test_connection_opens_explicitly_with_owner_and_counterpart() -> None:
    view = fold(event("connection.made", "r", days=1))
    assert view is not None
    assert (view.stage, view.implicit, view.owner) == (Stage.CONNECTION, False, "maria@example.com")
    assert view.counterpart == {"name": "Ada Lovelace", "kind": "person", "tags": ["math"]}
    assert view.reply()["level"] == "connection"


def test_unknown_relationship_opens_implicitly() -> None:
    view = fold(event("interaction.recorded", "r", days=3))
    assert view is not None
    assert view.implicit
    assert view.owner is None
    assert view.stage == Stage.CONNECTION
    later = fold(event("interaction.recorded", "r", days=3), event("connection.made", "r", days=4))
    assert later is not None
    assert not later.implicit


def test_accepted_changes_move_the_stage_and_rejected_ones_are_counted() -> None:
    view = fold(
        event("connection.made", "r"),
        event("stage.changed", "r", {"to": "awareness"}, days=2),
        event("stage.changed", "r", {"to": "partnership"}, days=3),  # skips without a reason
        event("stage.changed", "r", {"to": "engagement"}, days=4),
    )
    assert view is not None
    assert view.stage == Stage.ENGAGEMENT
    assert view.rejected_changes == 1
    assert view.since.day == 9  # BASE_TIME is 2026-01-05; the accepted change came 4 days on
    assert view.reached == {Stage.CONNECTION, Stage.AWARENESS, Stage.ENGAGEMENT}


def test_events_that_do_not_concern_the_stage_change_nothing() -> None:
    view = fold(event("connection.made", "r"))
    assert view is not None
    assert apply(view, parse_event(orjson.dumps(event("interaction.recorded", "r")))) is view


def test_funnel_counts_a_skipped_stage_as_reached() -> None:
    """Contract v1.1: `reached` counts stages moved past by a skip; conversion is never > 1."""
    skipped = fold(
        event("connection.made", "a"),
        event("stage.changed", "a", {"to": "engagement", "reason": "warm intro"}),
    )
    stepped = fold(
        event("connection.made", "b"),
        event("stage.changed", "b", {"to": "awareness"}),
        event("stage.changed", "b", {"to": "engagement"}),
    )
    closed = fold(
        event("connection.made", "c"),
        event("stage.changed", "c", {"to": "awareness"}),
        event("stage.changed", "c", {"to": "closed", "reason": "gone quiet"}),
    )
    totals: dict[tuple[str, str], int] = {}
    for view in (skipped, stepped, closed):
        for (_, measure, name), count in funnel_contribution(view).items():
            totals[(measure, name)] = totals.get((measure, name), 0) + count
    reply = funnel_reply(totals)
    assert reply["stages"]["engagement"] == 2
    assert reply["stages"]["closed"] == 1
    assert reply["reached"] == {
        "connection": 3, "awareness": 3, "engagement": 2, "conversion": 0, "partnership": 0
    }  # fmt: skip
    assert reply["conversion"] == {
        "connection->awareness": 1.0,
        "awareness->engagement": round(2 / 3, 4),
        "engagement->conversion": 0.0,
        "conversion->partnership": None,
    }


_moves = st.lists(
    st.tuples(
        st.sampled_from(
            ["connection", "awareness", "engagement", "conversion", "partnership", "closed"]
        ),
        st.booleans(),
    ),
    max_size=8,
)


@given(moves=_moves, owner_change=st.booleans())
def test_deltas_add_up_to_the_final_contribution(
    moves: list[tuple[str, bool]], owner_change: bool
) -> None:
    envelopes = [event("interaction.recorded", "r")]
    envelopes += [
        event("stage.changed", "r", {"to": to, "reason": "because" if why else None})
        for to, why in moves
    ]
    if owner_change:
        envelopes.append(event("connection.made", "r"))
    totals: dict[tuple[str, str, str], int] = {}
    view = None
    for envelope in envelopes:
        after = apply(view, parse_event(orjson.dumps(envelope)))
        for key, count in funnel_delta(view, after).items():
            totals[key] = totals.get(key, 0) + count
        view = after
    assert {k: v for k, v in totals.items() if v} == funnel_contribution(view)
