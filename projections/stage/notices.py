"""`stage.changed`: every stage change, accepted or rejected, with the verdict and its flags."""

from __future__ import annotations

from typing import TYPE_CHECKING

from events import Stage, StageChanged
from events.notices import STAGE_CHANGED, Notice, iso, notice_id
from events.stage_rules import check
from projections.notices import NoNotices

if TYPE_CHECKING:
    from events import Event
    from projections.stage.fold import StageView


class StageNotices(NoNotices["StageView"]):
    """A notice for each stage change, judged against the stage before it."""

    def after_event(
        self, before: StageView | None, event: Event, seq: int, after: StageView, /
    ) -> Notice | None:
        """The verdict on a stage change, as the fold reached it (the one stage rules)."""
        if not isinstance(event, StageChanged):
            return None
        current = before.stage if before is not None else Stage.CONNECTION  # opened implicitly
        change = event.data
        verdict = check(current, change)
        at = event.time.timestamp()
        return Notice(
            id=notice_id(STAGE_CHANGED, event.id),
            kind=STAGE_CHANGED,
            relationship_id=event.subject,
            time=at,
            data={
                "relationship_id": event.subject,
                "owner": after.owner,
                "from": current.value,
                "to": change.to.value,
                "accepted": verdict.accepted,
                "verdict": "accepted" if verdict.accepted else "rejected",
                "flags": list(verdict.flags),
                "why": verdict.reason or None,
                "stage": after.stage.value,  # where it stands after the change
                "changed_at": iso(at),
                "event_id": event.id,
                "seq": seq,
            },
        )
