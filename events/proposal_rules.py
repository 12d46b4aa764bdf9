"""The proposal lifecycle of the contract, as the one pure function ingest, fold and audit use.

- drafted: allowed when unknown (creates it) or drafted (revises it); rejected once submitted
  or decided;
- submitted: allowed when unknown (then `title` is required) or drafted; submitted again is a
  no-change; rejected once decided;
- accepted, declined: allowed when drafted (a fact: flagged `unsubmitted`) or submitted;
  rejected when unknown or decided (the same decision again is a no-change);
- withdrawn: allowed when drafted or submitted; rejected when unknown or decided.

Judged in stream order. Through the validated ingest a rejected event is refused; one that
arrives by a raw publish stays in the log, changes nothing, and is listed on its proposal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from events.records import ProposalDrafted, ProposalSubmitted

if TYPE_CHECKING:
    from events.records import ProposalEvent

Status = Literal["drafted", "submitted", "accepted", "declined", "withdrawn"]

DRAFTED = "rapport.proposal.drafted"
SUBMITTED = "rapport.proposal.submitted"
DECISIONS: dict[str, Status] = {
    "rapport.proposal.accepted": "accepted",
    "rapport.proposal.declined": "declined",
    "rapport.proposal.withdrawn": "withdrawn",
}
PROPOSAL_TYPES = frozenset({DRAFTED, SUBMITTED, *DECISIONS})
PENDING: frozenset[str] = frozenset({"drafted", "submitted"})


@dataclass(frozen=True, slots=True)
class Transition:
    """The verdict on one proposal event: the status after it, flags, and why it was refused."""

    accepted: bool
    status: Status | None  # the proposal's status after the event (None: still unknown)
    flags: tuple[str, ...] = ()
    why: str = ""


def check(
    status: Status | None, event_type: str, proposal_id: str, title: str | None = None
) -> Transition:
    """Judge a proposal event against the proposal's current status (None: unknown)."""
    now = f"proposal {proposal_id} is {status}"
    if event_type == DRAFTED:
        if status is None or status == "drafted":
            return Transition(True, "drafted")
        return _refused(status, f"already-{status}", f"{now}; a draft cannot reopen it")
    if event_type == SUBMITTED:
        if status == "drafted" or (status is None and title is not None):
            return Transition(True, "submitted")
        if status is None:
            why = f"proposal {proposal_id} was never drafted, so its submission needs a title"
            return _refused(None, "missing-title", why)
        if status == "submitted":
            return _refused(status, "no-change", f"{now} already")
        return _refused(status, f"already-{status}", f"{now}; it cannot be submitted")
    decision = DECISIONS.get(event_type)
    if decision is None:
        raise ValueError(f"{event_type} is not a proposal event")
    if status is None:
        why = f"proposal {proposal_id} is unknown, so it cannot be {decision}"
        return _refused(None, "unknown-proposal", why)
    if status == decision:
        return _refused(status, "no-change", f"{now} already")
    if status not in PENDING:
        return _refused(status, f"already-{status}", f"{now}; it cannot be {decision}")
    if status == "drafted" and decision != "withdrawn":
        return Transition(True, decision, ("unsubmitted",))  # a decision on a draft is a fact
    return Transition(True, decision)


def judge(status: Status | None, event: ProposalEvent) -> Transition:
    """Judge a proposal event (typed) against the proposal's current status."""
    title = event.data.title if isinstance(event, ProposalDrafted | ProposalSubmitted) else None
    return check(status, event.type, event.data.proposal_id, title)


def _refused(status: Status | None, flag: str, why: str) -> Transition:
    return Transition(False, status, (flag,), why)
