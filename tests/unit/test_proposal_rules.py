"""The proposal lifecycle of the contract, every status against every event, written out."""

from __future__ import annotations

import pytest

from events.proposal_rules import DECISIONS, DRAFTED, SUBMITTED, check

UNKNOWN = None
ACCEPT, DECLINE, WITHDRAW = (
    "rapport.proposal.accepted",
    "rapport.proposal.declined",
    "rapport.proposal.withdrawn",
)

# (status before, event, title given) -> (accepted, status after, flags): the contract's table
TABLE = [
    (UNKNOWN, DRAFTED, True, (True, "drafted", ())),
    ("drafted", DRAFTED, True, (True, "drafted", ())),
    ("submitted", DRAFTED, True, (False, "submitted", ("already-submitted",))),
    ("accepted", DRAFTED, True, (False, "accepted", ("already-accepted",))),
    ("declined", DRAFTED, True, (False, "declined", ("already-declined",))),
    ("withdrawn", DRAFTED, True, (False, "withdrawn", ("already-withdrawn",))),
    (UNKNOWN, SUBMITTED, True, (True, "submitted", ())),
    (UNKNOWN, SUBMITTED, False, (False, None, ("missing-title",))),
    ("drafted", SUBMITTED, False, (True, "submitted", ())),
    ("submitted", SUBMITTED, False, (False, "submitted", ("no-change",))),
    ("accepted", SUBMITTED, False, (False, "accepted", ("already-accepted",))),
    ("withdrawn", SUBMITTED, True, (False, "withdrawn", ("already-withdrawn",))),
    (UNKNOWN, ACCEPT, False, (False, None, ("unknown-proposal",))),
    ("drafted", ACCEPT, False, (True, "accepted", ("unsubmitted",))),
    ("submitted", ACCEPT, False, (True, "accepted", ())),
    ("accepted", ACCEPT, False, (False, "accepted", ("no-change",))),
    ("declined", ACCEPT, False, (False, "declined", ("already-declined",))),
    ("withdrawn", ACCEPT, False, (False, "withdrawn", ("already-withdrawn",))),
    (UNKNOWN, DECLINE, False, (False, None, ("unknown-proposal",))),
    ("drafted", DECLINE, False, (True, "declined", ("unsubmitted",))),
    ("submitted", DECLINE, False, (True, "declined", ())),
    ("declined", DECLINE, False, (False, "declined", ("no-change",))),
    ("accepted", DECLINE, False, (False, "accepted", ("already-accepted",))),
    (UNKNOWN, WITHDRAW, False, (False, None, ("unknown-proposal",))),
    ("drafted", WITHDRAW, False, (True, "withdrawn", ())),
    ("submitted", WITHDRAW, False, (True, "withdrawn", ())),
    ("accepted", WITHDRAW, False, (False, "accepted", ("already-accepted",))),
    ("declined", WITHDRAW, False, (False, "declined", ("already-declined",))),
    ("withdrawn", WITHDRAW, False, (False, "withdrawn", ("no-change",))),
]


@pytest.mark.parametrize(("status", "event_type", "titled", "expected"), TABLE)
def test_the_lifecycle_table(
    status: str | None,
    event_type: str,
    titled: bool,
    expected: tuple[bool, str | None, tuple[str, ...]],
) -> None:
    verdict = check(status, event_type, "p-1", "A title" if titled else None)  # type: ignore[arg-type]
    assert (verdict.accepted, verdict.status, verdict.flags) == expected
    assert bool(verdict.why) is not verdict.accepted


def test_every_status_meets_every_event_in_the_table() -> None:
    statuses = {UNKNOWN, "drafted", "submitted", "accepted", "declined", "withdrawn"}
    met = {(status, event_type) for status, event_type, _, _ in TABLE}
    assert {event_type for _, event_type in met} == {DRAFTED, SUBMITTED, *DECISIONS}
    for event_type in (DRAFTED, ACCEPT, WITHDRAW):
        assert {status for status, seen in met if seen == event_type} == statuses


def test_refusals_say_why_in_words() -> None:
    assert check(None, ACCEPT, "p-9").why == "proposal p-9 is unknown, so it cannot be accepted"
    assert (
        check("withdrawn", DECLINE, "p-9").why == "proposal p-9 is withdrawn; it cannot be declined"
    )
    assert check(None, SUBMITTED, "p-9").why == (
        "proposal p-9 was never drafted, so its submission needs a title"
    )
    assert (
        check("submitted", DRAFTED, "p-9").why
        == "proposal p-9 is submitted; a draft cannot reopen it"
    )


def test_an_event_that_is_not_a_proposal_event_is_a_bug() -> None:
    with pytest.raises(ValueError, match="not a proposal event"):
        check("drafted", "rapport.stage.changed", "p-1")
