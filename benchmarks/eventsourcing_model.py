"""Rapport's stage and health projections written the way the `eventsourcing` library has them.

The write model is an event-sourced application (`RelationshipLog`) whose `Relationship`
aggregates record each CloudEvent as it arrived from NATS. The read models are the library's
`Projection` classes, each with a materialised view that is a `SQLiteTrackingRecorder`: every
event updates the view row and the tracking record (application name, notification id) in one
SQLite transaction, so a view is exactly-once and resumes after its highest tracked position.
The folds are Rapport's own (`projections.stage.fold.apply`, `projections.health.fold.apply`),
so both implementations must reach the same states.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate, event
from eventsourcing.projection import Projection
from eventsourcing.sqlite import SQLiteConnectionPool, SQLiteFactory, SQLiteTrackingRecorder
from eventsourcing.utils import get_topic

from events import parse_event
from projections.health import codec
from projections.health.fold import apply as health_apply
from projections.health.score import touch_due
from projections.health.store import HealthStore
from projections.stage.fold import apply as stage_apply
from projections.stage.store import COLUMNS, ROW, StageStore, row_from_view, view_from_row

if TYPE_CHECKING:
    from eventsourcing.persistence import Tracking
    from eventsourcing.sqlite import SQLiteConnection
    from eventsourcing.utils import Environment, EnvType

    from events import Event

NAMESPACE = uuid5(NAMESPACE_URL, "rapport:relationship")


class Relationship(Aggregate):
    """One relationship's log: every CloudEvent stored under it, with its stream sequence."""

    class Opened(Aggregate.Created):
        """The first CloudEvent of a relationship arrived."""

        relationship_id: str
        cloudevent: str
        seq: int

    class Recorded(Aggregate.Event):
        """A further CloudEvent of the relationship arrived."""

        cloudevent: str
        seq: int

    @staticmethod
    def create_id(relationship_id: str, cloudevent: str = "", seq: int = 0) -> UUID:
        """The aggregate id of a relationship id."""
        return uuid5(NAMESPACE, relationship_id)

    @event(Opened)
    def __init__(self, relationship_id: str, cloudevent: str, seq: int) -> None:
        self.relationship_id = relationship_id
        self.last_seq = seq

    @event(Recorded)
    def record(self, cloudevent: str, seq: int) -> None:
        """Keep one more CloudEvent."""
        self.last_seq = seq


class RelationshipLog(Application[UUID]):
    """The event-sourced application the events from NATS are recorded in."""

    log_section_size = 1000  # the notification log hands followers sections this large


class _NormalSyncPool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        # WAL + NORMAL, as Rapport's stores run: a commit survives a process crash, not an
        # OS crash; the library's default (FULL) would add an fsync to every transaction.
        connection.cursor().execute("PRAGMA synchronous=NORMAL")
        return connection


class NormalSyncSQLiteFactory(SQLiteFactory):
    """The library's SQLite persistence with `synchronous=NORMAL` on every connection."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        stock = self.datastore.pool
        self.datastore.pool = _NormalSyncPool(
            db_name=stock.db_name, lock_timeout=stock.lock_timeout
        )
        stock.close()


class StageViewRecorder(SQLiteTrackingRecorder):
    """Rapport's `stage_view` table, kept with the library's tracking table."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), StageStore.tables[0]]

    def fold(self, event: Event, tracking: Tracking) -> None:
        """Load the relationship's row, fold the event, upsert it and track it, atomically."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"SELECT {COLUMNS} FROM stage_view WHERE relationship_id = ?", (event.subject,)
            )
            row = cursor.fetchone()
            view = stage_apply(view_from_row(row) if row else None, event)
            cursor.execute(
                f"INSERT OR REPLACE INTO stage_view ({COLUMNS}) VALUES {ROW}",
                row_from_view(view),
            )
            self._insert_tracking(cursor, tracking)


class HealthViewRecorder(SQLiteTrackingRecorder):
    """Rapport's `health_view` table, kept with the library's tracking table."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), HealthStore.tables[0]]

    def fold(self, event: Event, tracking: Tracking) -> None:
        """Load the relationship's state, fold the event, upsert it and track it, atomically."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "SELECT state FROM health_view WHERE relationship_id = ?", (event.subject,)
            )
            row = cursor.fetchone()
            state = health_apply(codec.decode(event.subject, row[0]) if row else None, event)
            cursor.execute(
                "INSERT OR REPLACE INTO health_view "
                "(relationship_id, owner, next_due, latest_at, state) VALUES (?,?,?,?,?)",
                (
                    event.subject,
                    state.owner,
                    touch_due(state),
                    state.latest_at,
                    codec.encode(state),
                ),
            )
            self._insert_tracking(cursor, tracking)


TOPICS = (get_topic(Relationship.Opened), get_topic(Relationship.Recorded))


class StageProjection(Projection[StageViewRecorder]):
    """Where each relationship stands."""

    name = "stage"
    topics = TOPICS

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)  # nothing to fold, but the position moves on

    @process_event.register(Relationship.Opened)
    @process_event.register(Relationship.Recorded)
    def _(
        self, domain_event: Relationship.Opened | Relationship.Recorded, tracking: Tracking
    ) -> None:
        self.view.fold(parse_event(domain_event.cloudevent), tracking)


class HealthProjection(Projection[HealthViewRecorder]):
    """What each relationship's health score is computed from."""

    name = "health"
    topics = TOPICS

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Relationship.Opened)
    @process_event.register(Relationship.Recorded)
    def _(
        self, domain_event: Relationship.Opened | Relationship.Recorded, tracking: Tracking
    ) -> None:
        self.view.fold(parse_event(domain_event.cloudevent), tracking)
