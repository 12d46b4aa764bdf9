"""What the CLI advises: one action per health reason, and never a strength "to fix"."""

from __future__ import annotations

import pytest

from projections.proposals.readiness import CAPACITY_FIT, STAGE_FIT
from services.cli.advice import action_for, first_to_fix, is_shortfall


@pytest.mark.parametrize(
    ("reason", "flags", "action"),
    [
        ("no interactions recorded yet; connection expects a touch every 7 days", ["no-contact"], "reach out: log a first touch"),
        ("no contact for 47 days; engagement expects 14", ["overdue"], "get in touch: log a call"),
        ("only 1 touch in the last 90 days; awareness wants one every 10 days", [], "get in touch more often"),
        ("no touches in the last 90 days; engagement wants one every 14 days", [], "get in touch more often"),
        ("mostly one-way: 80% of recent contact was us reaching out", ["one-way"], "ask them something they answer"),
        ("recent interactions were negative in tone", ["negative"], "meet and listen"),
        ("contact has been shallow: no recent meeting or call", ["shallow"], "book a meeting or a call"),
        ("in awareness for 52 days; it usually takes 30", ["stalled"], "move it on a stage, or close it"),
        ("no purpose set: every relationship should have one", ["no-purpose"], "set a purpose"),
        ("something new the projection says", ["shallow"], "book a meeting or a call"),
        ("something new the projection says", [], "look at it: rapport show ID"),
    ],
)  # fmt: skip
def test_each_first_reason_has_one_action(reason: str, flags: list[str], action: str) -> None:
    assert action_for({"reasons": [reason, "no purpose set: …"], "flags": flags}) == action


def test_what_readiness_calls_a_fit_is_never_a_shortfall() -> None:
    fits = [text for value, text in [*STAGE_FIT.values(), *CAPACITY_FIT.values()]]
    strong = {text for value, text in [*STAGE_FIT.values(), *CAPACITY_FIT.values()] if value >= 0.9}
    assert {text for text in fits if not is_shortfall(text)} == strong
    assert not is_shortfall("relationship health is 93 (thriving)")
    assert not is_shortfall("relationship health is 60 (healthy)")
    assert is_shortfall("relationship health is 59 (cooling): no contact for 30 days")
    assert not is_shortfall("they are available from 2026-01-02, before your start on 2026-02-01")
    assert is_shortfall("they are available only from 2026-03-02, after your start on 2026-02-01")
    assert not is_shortfall("aligned with their goals: reach")
    assert is_shortfall("serves none of their goals (they want: reach)")


def test_a_ready_proposal_has_nothing_to_fix() -> None:
    ready = {
        "score": 99,
        "reasons": [
            "relationship health is 93 (thriving)",
            "in conversion: the relationship is ready for a proposal",
            "they have high capacity now",
            "aligned with their goals: community",
        ],
    }
    assert first_to_fix(ready) is None
    medium = {**ready, "reasons": ["they have medium capacity: keep the ask focused"]}
    assert first_to_fix(medium) == "they have medium capacity: keep the ask focused"
    weak = {"score": 40, "reasons": ["relationship health is 70 (healthy)"]}
    assert first_to_fix(weak) == "relationship health is 70 (healthy)"  # not ready: its weakest
