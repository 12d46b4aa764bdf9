"""`health.band.changed` and `touch.due`: what the health projection announces.

A band change compares the band of each relationship a batch changed, before and after the
batch, at the same instant (`now`, when the batch is folded): the difference is the batch's
doing. Silence also moves a band, slowly; `touch.due` announces what silence asks for, at the
moment `next_touch_due` passes. A closed relationship is in no band and never due.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from events import Stage
from events.notices import BAND_CHANGED, TOUCH_DUE, Notice, iso, notice_id, touch_due_cause
from projections.health.policy import POLICY, HealthPolicy, band
from projections.health.score import assess, score_at
from projections.notices import NoNotices

if TYPE_CHECKING:
    from collections.abc import Mapping

    from projections.health.fold import HealthState
    from projections.notices import Cause

REMEMBER_SECONDS = 60.0  # a band noted after a batch stands for "before" the next this long
REMEMBERED = 50_000  # relationships whose latest band is remembered


def band_at(state: HealthState, now: float, policy: HealthPolicy = POLICY) -> str | None:
    """The band of `state` at `now` (None once closed): the score alone, without reasons."""
    stage, score = score_at(state, now, policy)
    return None if stage == Stage.CLOSED else band(score)


class HealthNotices(NoNotices["HealthState"]):
    """Band changes of a batch; remembers each relationship's band after its last batch.

    Remembering halves the scoring a batch costs: the band after one batch is the band before
    the next (when that comes within `REMEMBER_SECONDS`, before the instant drifts).
    """

    def __init__(self, policy: HealthPolicy = POLICY) -> None:
        self.policy = policy
        self._bands: OrderedDict[str, tuple[str | None, float]] = OrderedDict()

    def after_batch(
        self,
        changes: Mapping[str, tuple[HealthState | None, HealthState]],
        causes: Mapping[str, Cause],
        now: float,
        /,
    ) -> list[Notice]:
        """A notice for each relationship whose band the batch moved (not its first batch)."""
        found: list[Notice] = []
        for key, (seq, event) in causes.items():
            change = changes.get(key)
            if change is None:
                continue
            before, after = change
            was = self._band_before(key, before, now)
            now_band = band_at(after, now, self.policy)
            self._remember(key, now_band, now)
            if was is None or now_band is None or was == now_band:
                continue
            report = assess(after, datetime.fromtimestamp(now, UTC), self.policy)
            found.append(
                Notice(
                    id=notice_id(BAND_CHANGED, event.id),
                    kind=BAND_CHANGED,
                    relationship_id=key,
                    time=now,
                    data={
                        "relationship_id": key,
                        "owner": after.owner,
                        "from": was,
                        "to": report.band,
                        "score": report.score,
                        "reasons": report.reasons,
                        "as_of": iso(now),
                        "event_id": event.id,
                        "seq": seq,
                    },
                )
            )
        return found

    def forget(self) -> None:
        """Bands noted after batches that were not committed no longer hold."""
        self._bands.clear()

    def _band_before(self, key: str, before: HealthState | None, now: float) -> str | None:
        if before is None:
            return None  # a relationship's first band is not a change
        remembered = self._bands.get(key)
        if remembered is not None and now - remembered[1] <= REMEMBER_SECONDS:
            return remembered[0]
        return band_at(before, now, self.policy)

    def _remember(self, key: str, noted: str | None, now: float) -> None:
        self._bands[key] = (noted, now)
        self._bands.move_to_end(key)
        while len(self._bands) > REMEMBERED:
            self._bands.popitem(last=False)


def touch_due_notice(state: HealthState, due: float, now: float) -> Notice:
    """The notice that `state`'s touch fell due at `due` (scored at `now`, when it is sent)."""
    report = assess(state, datetime.fromtimestamp(max(now, due), UTC))
    return Notice(
        id=notice_id(TOUCH_DUE, touch_due_cause(state.relationship_id, due)),
        kind=TOUCH_DUE,
        relationship_id=state.relationship_id,
        time=due,
        data={
            "relationship_id": state.relationship_id,
            "owner": state.owner,
            "due": iso(due),
            "stage": report.stage.value,
            "last_interaction_at": _iso(state.last_touch_at),
            "score": report.score,
            "band": report.band,
            "reasons": report.reasons,
        },
    )


def _iso(moment: float | None) -> str | None:
    return None if moment is None else iso(moment)
