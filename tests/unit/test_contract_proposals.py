"""The proposal lifecycle of the contract (v1.1) and what the proposals projection keeps."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from events.proposal_rules import check
from projections.proposals import codec
from projections.proposals.fold import (
    Capacity,
    PartnerContext,
    Proposal,
    Purpose,
    Rejection,
)
from tests.factories import BASE_TIME, event
from tests.folding import fold_context as fold


def at(days: float) -> datetime:
    return BASE_TIME + timedelta(days=days)


def proposal_event(what: str, day: float = 0, pid: str = "p-1", **data: Any) -> dict[str, Any]:
    return event(f"proposal.{what}", "r", {"proposal_id": pid, **data}, days=day)


def draft(day: float = 0, pid: str = "p-1", **data: Any) -> dict[str, Any]:
    return proposal_event("drafted", day, pid, **{"title": "Joint workshop", **data})


def the(context: PartnerContext, pid: str = "p-1") -> Proposal:
    proposal = context.proposal(pid)
    assert proposal is not None
    return proposal


# -- the lifecycle table of the contract --------------------------------------------------------

# (status before, event, accepted, status after, flags)
LIFECYCLE: list[tuple[str | None, str, bool, str | None, tuple[str, ...]]] = [
    (None, "drafted", True, "drafted", ()),
    ("drafted", "drafted", True, "drafted", ()),
    ("submitted", "drafted", False, "submitted", ("already-submitted",)),
    ("accepted", "drafted", False, "accepted", ("already-accepted",)),
    ("withdrawn", "drafted", False, "withdrawn", ("already-withdrawn",)),
    ("drafted", "submitted", True, "submitted", ()),
    ("submitted", "submitted", False, "submitted", ("no-change",)),
    ("declined", "submitted", False, "declined", ("already-declined",)),
    (None, "accepted", False, None, ("unknown-proposal",)),
    ("drafted", "accepted", True, "accepted", ("unsubmitted",)),
    ("submitted", "accepted", True, "accepted", ()),
    ("accepted", "accepted", False, "accepted", ("no-change",)),
    ("declined", "accepted", False, "declined", ("already-declined",)),
    ("drafted", "declined", True, "declined", ("unsubmitted",)),
    ("submitted", "declined", True, "declined", ()),
    ("declined", "declined", False, "declined", ("no-change",)),
    (None, "withdrawn", False, None, ("unknown-proposal",)),
    ("drafted", "withdrawn", True, "withdrawn", ()),
    ("submitted", "withdrawn", True, "withdrawn", ()),
    ("accepted", "withdrawn", False, "accepted", ("already-accepted",)),
]


@pytest.mark.parametrize(("before", "kind", "accepted", "after", "flags"), LIFECYCLE)
def test_the_lifecycle_table(
    before: str | None, kind: str, accepted: bool, after: str | None, flags: tuple[str, ...]
) -> None:
    verdict = check(before, f"rapport.proposal.{kind}", "p-1", "T")  # type: ignore[arg-type]
    assert (verdict.accepted, verdict.status, verdict.flags) == (accepted, after, flags)
    assert bool(verdict.why) is not accepted


def test_a_submission_without_a_draft_needs_a_title() -> None:
    assert check(None, "rapport.proposal.submitted", "p-1", "T").accepted
    refused = check(None, "rapport.proposal.submitted", "p-1")
    assert (refused.accepted, refused.status, refused.flags) == (False, None, ("missing-title",))
    assert refused.why == "proposal p-1 was never drafted, so its submission needs a title"


def test_refusals_say_why_in_words() -> None:
    assert check("declined", "rapport.proposal.accepted", "p-1").why == (
        "proposal p-1 is declined; it cannot be accepted"
    )
    assert check("submitted", "rapport.proposal.submitted", "p-1").why == (
        "proposal p-1 is submitted already"
    )
    assert check("accepted", "rapport.proposal.submitted", "p-1").why == (
        "proposal p-1 is accepted; it cannot be submitted"
    )
    assert check(None, "rapport.proposal.withdrawn", "p-1").why == (
        "proposal p-1 is unknown, so it cannot be withdrawn"
    )


def test_only_proposal_events_are_judged() -> None:
    with pytest.raises(ValueError, match=r"rapport\.stage\.changed is not a proposal event"):
        check(None, "rapport.stage.changed", "p-1")


# -- what the fold keeps of each proposal ------------------------------------------------------


def test_a_draft_keeps_its_fields_and_a_revision_its_opening() -> None:
    first = draft(1, kind="program", ask="co-host", goals=["reach"], proposed_start="2026-03-01")
    context = fold(first)
    assert the(context) == Proposal(
        proposal_id="p-1",
        title="Joint workshop",
        status="drafted",
        opened_at=at(1),
        kind="program",
        ask="co-host",
        goals=("reach",),
        proposed_start=date(2026, 3, 1),
    )
    revised = fold(first, draft(3, title="Joint course"))
    assert the(revised) == Proposal(
        proposal_id="p-1", title="Joint course", status="drafted", opened_at=at(1)
    )


def test_a_submission_without_a_draft_opens_it_with_every_field() -> None:
    context = fold(
        proposal_event(
            "submitted",
            2,
            title="Direct ask",
            kind="grant",
            ask="fund it",
            goals=["income"],
            proposed_start="2026-04-01",
        )
    )
    assert the(context) == Proposal(
        proposal_id="p-1",
        title="Direct ask",
        status="submitted",
        opened_at=at(2),
        kind="grant",
        ask="fund it",
        goals=("income",),
        proposed_start=date(2026, 4, 1),
        submitted_at=at(2),
    )


def test_a_submission_fills_in_and_overrides_the_draft() -> None:
    first = draft(1, kind="program", ask="co-host", goals=["reach"], proposed_start="2026-03-01")
    kept = fold(first, proposal_event("submitted", 2))
    assert the(kept) == Proposal(
        proposal_id="p-1",
        title="Joint workshop",
        status="submitted",
        opened_at=at(1),
        kind="program",
        ask="co-host",
        goals=("reach",),
        proposed_start=date(2026, 3, 1),
        submitted_at=at(2),
    )
    changed = fold(
        first,
        proposal_event(
            "submitted",
            2,
            title="Joint course",
            kind="course",
            ask="teach",
            goals=["income"],
            proposed_start="2026-05-01",
        ),
    )
    assert the(changed) == Proposal(
        proposal_id="p-1",
        title="Joint course",
        status="submitted",
        opened_at=at(1),
        kind="course",
        ask="teach",
        goals=("income",),
        proposed_start=date(2026, 5, 1),
        submitted_at=at(2),
    )
    bare = fold(draft(1), proposal_event("submitted", 2, kind="course", ask="teach"))
    assert (the(bare).kind, the(bare).ask, the(bare).proposed_start) == ("course", "teach", None)


def test_a_decision_records_when_why_and_whether_it_was_ever_submitted() -> None:
    on_draft = fold(draft(1), proposal_event("accepted", 4, reason="a clear yes"))
    assert the(on_draft) == Proposal(
        proposal_id="p-1",
        title="Joint workshop",
        status="accepted",
        opened_at=at(1),
        decided_at=at(4),
        reason="a clear yes",
        flags=("unsubmitted",),
    )
    submitted = fold(draft(1), proposal_event("submitted", 2), proposal_event("declined", 5))
    declined = the(submitted)
    assert (declined.status, declined.decided_at, declined.reason, declined.flags) == (
        "declined",
        at(5),
        None,
        (),
    )
    assert not declined.pending


def test_a_refused_event_changes_nothing_and_is_kept_with_why() -> None:
    context = fold(
        draft(1),
        proposal_event("withdrawn", 2),
        proposal_event("accepted", 3),
        proposal_event("declined", 4, pid="p-2"),
    )
    assert the(context).status == "withdrawn"
    assert context.rejections == (
        Rejection("p-1", 3, "rapport.proposal.accepted", "proposal p-1 is withdrawn; it cannot be accepted"),
        Rejection("p-2", 4, "rapport.proposal.declined", "proposal p-2 is unknown, so it cannot be declined"),
    )  # fmt: skip
    assert context.rejected("p-2") == context.rejections[1:]
    assert context.proposal("p-2") is None


def test_changing_one_proposal_leaves_the_others() -> None:
    context = fold(draft(1), draft(2, pid="p-2"), proposal_event("submitted", 3))
    assert [(p.proposal_id, p.status) for p in context.proposals] == [
        ("p-1", "submitted"),
        ("p-2", "drafted"),
    ]


# -- the partner context ------------------------------------------------------------------------


def test_the_latest_purpose_by_time_and_id() -> None:
    hello = event("connection.made", "r", days=0, event_id="c")
    hello["data"] = {**hello["data"], "purpose": "explore"}
    purpose = event(
        "purpose.set",
        "r",
        {"purpose": "co-teach", "target_date": "2027-01-01"},
        days=2,
        event_id="p",
    )
    assert fold(hello).purpose == Purpose("explore", None, at(0).timestamp(), "c")
    assert fold(hello, purpose).purpose == Purpose(
        "co-teach", date(2027, 1, 1), at(2).timestamp(), "p"
    )
    assert fold(purpose, hello).purpose == Purpose(
        "co-teach", date(2027, 1, 1), at(2).timestamp(), "p"
    )  # a handshake stored later but dated earlier does not win
    older = event("purpose.set", "r", {"purpose": "old"}, days=1, event_id="q")
    assert fold(purpose, older).purpose == Purpose(
        "co-teach", date(2027, 1, 1), at(2).timestamp(), "p"
    )
    plain = event("connection.made", "r", days=3)
    assert fold(plain).purpose is None  # a handshake without a purpose sets none
    assert fold(purpose, plain).purpose == fold(purpose).purpose


def test_the_latest_capacity_by_time_and_the_owner() -> None:
    early = event("capacity.noted", "r", {"capacity": "low"}, days=1, event_id="k1")
    late = event(
        "capacity.noted",
        "r",
        {"capacity": "high", "available_from": "2026-02-01", "goals": ["reach"]},
        days=2,
        event_id="k2",
    )
    expected = Capacity("high", date(2026, 2, 1), ("reach",), at(2).timestamp(), "k2")
    assert fold(early, late).capacity == expected
    assert fold(late, early).capacity == expected
    context = fold(late, event("connection.made", "r", days=3))
    assert context.owner == "maria@example.com"
    assert context.relationship_id == "r"
    assert context.health.relationship_id == "r"
    assert context.health.latest_at == at(3).timestamp()


# -- the store's bytes --------------------------------------------------------------------------


def test_the_codec_keeps_every_field() -> None:
    hello = event("connection.made", "r", days=0)
    hello["data"] = {**hello["data"], "purpose": "explore"}
    rich = fold(
        hello,
        event("purpose.set", "r", {"purpose": "co-teach", "target_date": "2027-01-01"}, days=1),
        event(
            "capacity.noted",
            "r",
            {"capacity": "medium", "available_from": "2026-02-01", "goals": ["reach"]},
            days=1,
        ),
        event("interaction.recorded", "r", days=1),
        event("stage.changed", "r", {"to": "awareness", "from": "connection"}, days=1),
        draft(2, kind="program", ask="co-host", goals=["reach"], proposed_start="2026-03-01"),
        proposal_event("submitted", 3),
        proposal_event("declined", 4, reason="no budget"),
        draft(5, pid="p-2"),
        proposal_event("accepted", 6, pid="p-2"),
        proposal_event("accepted", 7),
        draft(8, pid="p-3"),
    )
    assert len(rich.proposals) == 3
    assert rich.rejections
    assert codec.decode("r", codec.encode(rich)) == rich
    bare = fold(event("capacity.noted", "r", {"capacity": "low"}), event("purpose.set", "r"))
    assert bare.capacity is not None
    assert bare.purpose is not None
    assert bare.purpose.target_date is not None
    assert codec.decode("r", codec.encode(bare)) == bare
    nothing = fold(event("interaction.recorded", "r"))
    assert (nothing.capacity, nothing.purpose) == (None, None)
    assert codec.decode("r", codec.encode(nothing)) == nothing
    available_without_goals = fold(
        event("capacity.noted", "r", {"capacity": "low", "available_from": "2026-03-01"})
    )
    assert codec.decode("r", codec.encode(available_without_goals)) == available_without_goals
    no_dates = fold(
        event("capacity.noted", "r", {"capacity": "low"}),
        event("purpose.set", "r", {"purpose": "p"}),
    )
    assert codec.decode("r", codec.encode(no_dates)) == no_dates
