"""One stage timeline: everything that names a stage at an instant names the same one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from events import FUNNEL, Stage, parse_event
from events.timeline import StageMark, stage_at
from projections.audit import audit
from projections.health import fold as health
from projections.health.score import assess
from projections.proposals import fold as proposals
from projections.proposals.readiness import stage_on
from projections.stage import fold as stage
from projections.stage.fold import funnel_contribution, funnel_reply
from tests.factories import BASE_TIME, event

_changes = st.lists(
    st.builds(
        lambda to, why, claim, day: event(
            "stage.changed",
            "r",
            {"to": to, "reason": "because" if why else None, "from": claim},
            days=day,
        ),
        st.sampled_from([s.value for s in Stage]),
        st.booleans(),
        st.none() | st.sampled_from([s.value for s in Stage]),
        st.floats(0, 100),
    ),
    max_size=10,
)


def typed(envelopes: list[dict[str, Any]]) -> list[Any]:
    return [parse_event(orjson.dumps(e)) for e in envelopes]


@settings(max_examples=300)
@given(changes=_changes, instant=st.floats(-1, 101))
def test_every_reader_names_the_same_stage_at_an_instant(
    changes: list[dict[str, Any]], instant: float
) -> None:
    events = typed([event("connection.made", "r", days=-2), *changes])
    when = BASE_TIME + timedelta(days=instant)
    until = [(seq, e) for seq, e in enumerate(events, start=1) if e.time <= when]

    view = None
    for seq, e in until:  # what `stage.get` with `as_of` folds
        view = stage.apply(view, e, seq)
    health_state, context = None, None
    for seq, e in enumerate(events, start=1):  # the stored states know every event
        health_state = health.apply(health_state, e, seq)
        context = proposals.apply(context, e, seq)
    assert health_state is not None and context is not None  # noqa: PT018

    named = {
        "stage": view.stage if view else None,
        "health": assess(health_state, when).stage if view else None,
        "readiness": stage_on(context, when) if view else None,
        "audit": audit("r", until).stage if until else None,
    }
    assert len(set(named.values())) == 1, named


@given(changes=_changes)
def test_the_current_stage_is_the_fold_of_every_change_in_stream_order(
    changes: list[dict[str, Any]],
) -> None:
    events = typed([event("connection.made", "r"), *changes])
    view = None
    for seq, e in enumerate(events, start=1):
        view = stage.apply(view, e, seq)
    marks = [
        StageMark(e.time.timestamp(), e.id, e.data.to, e.data.from_, e.data.reason)
        for e in events[1:]
    ]
    assert view is not None
    assert stage_at(marks, events[0].time.timestamp())[0] == view.stage


@given(histories=st.lists(_changes, min_size=1, max_size=6))
def test_reached_never_grows_along_the_funnel_and_conversion_is_at_most_one(
    histories: list[list[dict[str, Any]]],
) -> None:
    totals: dict[tuple[str, str], int] = {}
    for changes in histories:
        view = None
        for seq, e in enumerate(typed([event("connection.made", "r"), *changes]), start=1):
            view = stage.apply(view, e, seq)
        for (_, measure, name), count in funnel_contribution(view).items():
            totals[(measure, name)] = totals.get((measure, name), 0) + count
    reply = funnel_reply(totals)
    reached = [reply["reached"][s.value] for s in FUNNEL]
    assert reached == sorted(reached, reverse=True)
    assert reached[0] == len(histories)
    for ratio in reply["conversion"].values():
        assert ratio is None or 0 <= ratio <= 1
