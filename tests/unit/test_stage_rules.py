"""The contract's stage rules, table-driven: every move, accepted or rejected, with flags."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events import Stage
from events.data import StageChangedData  # the public schema's model of the change
from events.stage_rules import check
from events.timeline import step

C, A, E, V, P, X = (
    Stage.CONNECTION,
    Stage.AWARENESS,
    Stage.ENGAGEMENT,
    Stage.CONVERSION,
    Stage.PARTNERSHIP,
    Stage.CLOSED,
)
WHY = "agreed in the meeting"

# (current, to, from, reason, accepted, flags)
RULES: list[tuple[Stage, Stage, Stage | None, str | None, bool, tuple[str, ...]]] = [
    # one step forward is allowed
    (C, A, None, None, True, ()),
    (A, E, None, None, True, ()),
    (E, V, None, None, True, ()),
    (V, P, None, None, True, ()),
    (C, A, C, None, True, ()),
    # skipping stages needs a reason
    (C, E, None, None, False, ("skipped:awareness", "missing-reason")),
    (C, P, None, None, False, ("skipped:awareness+engagement+conversion", "missing-reason")),
    (C, E, None, WHY, True, ("skipped:awareness",)),
    (A, P, None, WHY, True, ("skipped:engagement+conversion",)),
    # moving back needs a reason
    (E, A, None, None, False, ("backward", "missing-reason")),
    (P, C, None, None, False, ("backward", "missing-reason")),
    (E, A, None, WHY, True, ("backward",)),
    # closed from any stage needs a reason
    (C, X, None, None, False, ("missing-reason",)),
    (P, X, None, None, False, ("missing-reason",)),
    (E, X, None, WHY, True, ()),
    # from closed any stage may be reopened
    (X, C, None, None, True, ("reopened",)),
    (X, P, None, None, True, ("reopened",)),
    (X, E, X, None, True, ("reopened",)),
    # a change to the current stage changes nothing and is rejected
    (A, A, None, None, False, ("no-change",)),
    (X, X, None, WHY, False, ("no-change",)),
    # a `from` that differs from the current stage is a conflict
    (A, E, C, None, False, ("from-mismatch",)),
    (C, A, A, None, False, ("from-mismatch",)),
    (V, X, E, WHY, False, ("from-mismatch",)),
]


@pytest.mark.parametrize(("current", "to", "from_", "reason", "accepted", "flags"), RULES)
def test_contract_rules(
    current: Stage,
    to: Stage,
    from_: Stage | None,
    reason: str | None,
    accepted: bool,
    flags: tuple[str, ...],
) -> None:
    change = StageChangedData.model_validate({"to": to, "from": from_, "reason": reason})
    verdict = check(current, change)
    assert verdict.accepted is accepted
    assert verdict.flags == flags
    assert bool(verdict.reason) is not accepted


def test_rejected_change_leaves_the_stage() -> None:
    stage, verdict = step(A, StageChangedData(to=P))
    assert (stage, verdict.accepted) == (A, False)
    stage, verdict = step(A, StageChangedData(to=E))
    assert (stage, verdict.accepted) == (E, True)


def test_rejection_reasons_are_words() -> None:
    verdict = check(C, StageChangedData(to=V))
    assert verdict.reason == (
        "skipping awareness, engagement (from connection to conversion) needs a reason"
    )


_stages = st.sampled_from(list(Stage))
# The contract's rejecting rules, stated here on their own: each of these flags rejects a change.
REJECTING_FLAGS = frozenset({"from-mismatch", "no-change", "missing-reason"})


@given(current=_stages, to=_stages, from_=st.none() | _stages, reason=st.none() | st.just(WHY))
def test_rejected_exactly_when_a_rejecting_flag_is_raised(
    current: Stage, to: Stage, from_: Stage | None, reason: str | None
) -> None:
    verdict = check(
        current, StageChangedData.model_validate({"to": to, "from": from_, "reason": reason})
    )
    assert verdict.accepted is not bool(set(verdict.flags) & REJECTING_FLAGS)
    if reason is not None and from_ in (None, current) and to != current:
        assert verdict.accepted  # with a reason and a true `from`, every real move is allowed
