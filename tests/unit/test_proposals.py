"""Proposals: the lifecycle, what breaks it, and readiness from what the partner can do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from events import Stage
from projections.proposals import codec
from projections.proposals.readiness import age_days, readiness, stage_on
from tests.factories import BASE_TIME, event
from tests.folding import fold_context as fold


def drafted(pid: str = "p-1", **data: Any) -> dict[str, Any]:
    return event("proposal.drafted", "r", {"proposal_id": pid, "title": "Joint workshop", **data})


def decided(kind: str, pid: str = "p-1") -> dict[str, Any]:
    return event(f"proposal.{kind}", "r", {"proposal_id": pid})


def test_lifecycle_draft_submit_accept() -> None:
    context = fold(
        drafted(), event("proposal.submitted", "r", {"proposal_id": "p-1"}), decided("accepted")
    )
    proposal = context.proposal("p-1")
    assert proposal is not None
    assert proposal.status == "accepted"
    assert not proposal.pending


def test_submission_without_a_draft_opens_the_proposal() -> None:
    context = fold(event("proposal.submitted", "r", {"proposal_id": "p-9", "title": "Direct ask"}))
    proposal = context.proposal("p-9")
    assert proposal is not None
    assert (proposal.status, proposal.title) == ("submitted", "Direct ask")


def test_submission_fills_in_the_draft() -> None:
    context = fold(
        drafted(), event("proposal.submitted", "r", {"proposal_id": "p-1", "goals": ["reach"]})
    )
    proposal = context.proposal("p-1")
    assert proposal is not None
    assert proposal.goals == ("reach",)
    assert proposal.title == "Joint workshop"


def test_a_draft_can_be_withdrawn() -> None:
    assert fold(drafted(), decided("withdrawn")).proposal("p-1").status == "withdrawn"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("envelopes", "rejected"),
    [
        ([decided("accepted")], (1, "proposal p-1 is unknown, so it cannot be accepted")),
        (
            [drafted(), decided("withdrawn"), decided("declined")],
            (3, "proposal p-1 is withdrawn; it cannot be declined"),
        ),
        (
            [event("proposal.submitted", "r", {"proposal_id": "p-1"})],
            (1, "proposal p-1 was never drafted, so its submission needs a title"),
        ),
        (
            [drafted(), event("proposal.submitted", "r", {"proposal_id": "p-1"}), drafted()],
            (3, "proposal p-1 is submitted; a draft cannot reopen it"),
        ),
        (
            [drafted(), decided("accepted"), decided("accepted")],
            (3, "proposal p-1 is accepted already"),
        ),
    ],
)
def test_events_that_break_the_lifecycle_are_kept_as_rejected_transitions(
    envelopes: list[dict[str, Any]], rejected: tuple[int, str]
) -> None:
    """Contract v1.1: kept in the log, changing nothing, listed on the proposal with why."""
    context = fold(*envelopes)
    before = fold(*envelopes[:-1]) if len(envelopes) > 1 else None
    (rejection,) = context.rejected("p-1")
    assert (rejection.seq, rejection.why) == rejected
    assert rejection.type == envelopes[-1]["type"]
    assert context.proposals == (before.proposals if before else ())


def test_a_decision_on_a_draft_is_a_fact_flagged_unsubmitted() -> None:
    proposal = fold(drafted(), decided("accepted")).proposal("p-1")
    assert proposal is not None
    assert (proposal.status, proposal.flags) == ("accepted", ("unsubmitted",))
    withdrawn = fold(drafted(), decided("withdrawn")).proposal("p-1")
    assert withdrawn is not None
    assert withdrawn.flags == ()


def test_context_follows_stage_owner_and_latest_capacity() -> None:
    context = fold(
        event("connection.made", "r"),
        event("stage.changed", "r", {"to": "awareness"}),
        event("stage.changed", "r", {"to": "partnership"}),  # rejected: skips without a reason
        event("capacity.noted", "r", {"capacity": "high"}, days=5),
        event("capacity.noted", "r", {"capacity": "low"}, days=2),  # older: ignored
    )
    assert context.owner == "maria@example.com"
    assert stage_on(context, BASE_TIME + timedelta(days=10)) == Stage.AWARENESS
    assert context.capacity is not None
    assert context.capacity.level == "high"


def ready_context(**capacity: Any) -> list[dict[str, Any]]:
    return [
        event("connection.made", "r"),
        event("stage.changed", "r", {"to": "awareness"}, days=1),
        event("stage.changed", "r", {"to": "engagement"}, days=5),
        event("stage.changed", "r", {"to": "conversion"}, days=20),
        event("purpose.set", "r"),
        *[
            event(
                "interaction.recorded",
                "r",
                {"kind": "meeting", "direction": "mutual", "sentiment": 0.8},
                days=d,
            )
            for d in range(0, 30, 4)
        ],
        event(
            "capacity.noted",
            "r",
            {"capacity": "high", "goals": ["reach", "teaching"], **capacity},
            days=25,
        ),
    ]


def test_a_well_aligned_proposal_is_ready() -> None:
    context = fold(
        *ready_context(available_from="2026-02-01"),
        drafted(goals=["Teaching"], proposed_start="2026-03-01"),
    )
    result = readiness(context, context.proposal("p-1"), BASE_TIME + timedelta(days=30))  # type: ignore[arg-type]
    assert result.score >= 85
    assert "aligned with their goals: teaching" in result.reasons
    assert "in conversion: the relationship is ready for a proposal" in result.reasons


def test_timing_and_capacity_that_are_off_are_named_first() -> None:
    context = fold(
        *ready_context(available_from="2026-06-01", capacity="low"),
        drafted(goals=["profit"], proposed_start="2026-03-01"),
    )
    result = readiness(context, context.proposal("p-1"), BASE_TIME + timedelta(days=30))  # type: ignore[arg-type]
    assert result.score < 60
    top = " ".join(result.reasons[:3])
    assert "capacity is low" in top
    assert "serves none of their goals" in top
    assert "available only from 2026-06-01, after your start on 2026-03-01" in " ".join(
        result.reasons
    )


def test_too_early_in_the_relationship() -> None:
    context = fold(event("connection.made", "r"), drafted())
    result = readiness(context, context.proposal("p-1"), BASE_TIME + timedelta(days=1))  # type: ignore[arg-type]
    assert result.score < 40
    assert result.reasons[0].startswith("only a connection: too early to propose")


def test_age_in_days() -> None:
    context = fold(drafted())
    assert age_days(context.proposal("p-1"), BASE_TIME + timedelta(days=3, hours=5)) == 3  # type: ignore[arg-type]


def test_codec_round_trip() -> None:
    context = fold(
        *ready_context(available_from="2026-02-01"),
        drafted(goals=["teaching"], proposed_start="2026-03-01", kind="program", ask="co-host"),
        drafted("p-2"),
        decided("withdrawn", "p-2"),
    )
    assert codec.decode("r", codec.encode(context)) == context
