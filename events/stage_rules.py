"""The stage rules of the contract, as the one pure function ingest, projections and audit use.

One step forward is allowed; skipping stages needs a reason; moving back needs a reason;
`closed` from any stage needs a reason; from `closed` any stage may be reopened; a change to
the current stage changes nothing and is rejected; a `from` that differs from the current
stage is a conflict. A change that breaks a rule is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from events.stages import FUNNEL, ORDER, Stage


class StageChange(Protocol):
    """A requested move: `StageChangedData`, or anything with the same three fields."""

    @property
    def to(self) -> Stage: ...

    @property
    def from_(self) -> Stage | None: ...

    @property
    def reason(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a change is accepted, the flags a reviewer should see, and why it was not."""

    accepted: bool
    flags: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def reason(self) -> str:
        """The rejection in words (empty when accepted)."""
        return "; ".join(self.problems)


def check(current: Stage, change: StageChange) -> Verdict:
    """Judge a stage change against the relationship's current stage."""
    to, reason = change.to, change.reason
    flags: list[str] = []
    problems: list[str] = []
    if change.from_ is not None and change.from_ != current:
        flags.append("from-mismatch")
        problems.append(
            f"conflict: the change says from {change.from_.value}, "
            f"but the relationship is at {current.value}"
        )
    if to == current:
        flags.append("no-change")
        problems.append(f"no change: the relationship is already at {to.value}")
    elif current == Stage.CLOSED:
        flags.append("reopened")
    elif to == Stage.CLOSED:
        if not reason:
            flags.append("missing-reason")
            problems.append("closing a relationship needs a reason")
    else:
        step = ORDER[to] - ORDER[current]
        if step > 1:
            skipped = FUNNEL[ORDER[current] + 1 : ORDER[to]]
            flags.append("skipped:" + "+".join(stage.value for stage in skipped))
            if not reason:
                flags.append("missing-reason")
                problems.append(
                    f"skipping {', '.join(s.value for s in skipped)} "
                    f"(from {current.value} to {to.value}) needs a reason"
                )
        elif step < 0:
            flags.append("backward")
            if not reason:
                flags.append("missing-reason")
                problems.append(f"moving back from {current.value} to {to.value} needs a reason")
    return Verdict(accepted=not problems, flags=tuple(flags), problems=tuple(problems))
