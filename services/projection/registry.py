"""The projections Rapport runs, by name: each one's fold, store, queries and fold version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from projections.health import fold as health
from projections.health.notices import HealthNotices
from projections.health.store import HealthStore
from projections.proposals import fold as proposals
from projections.proposals.notices import ProposalNotices
from projections.proposals.store import ProposalsStore
from projections.stage import fold as stage
from projections.stage.notices import StageNotices
from projections.stage.store import StageStore
from projections.store_base import SqliteStore
from services.queries import health as health_queries
from services.queries import proposals as proposals_queries
from services.queries import stage as stage_queries

if TYPE_CHECKING:
    from collections.abc import Callable

    from projections.base import Fold
    from projections.notices import NoticeRules
    from services.queries.routes import Context, Route

StoreT = TypeVar("StoreT", bound=SqliteStore[Any])


@dataclass(frozen=True)
class ProjectionSpec(Generic[StoreT]):
    """How to run one projection: its fold, its store and its queries.

    `version` names what the fold computes: a store built by another version is rebuilt from
    the log when the service starts. `notices` makes the rules of what it announces.
    """

    name: str
    fold: Fold[Any]
    store: type[StoreT]
    routes: Callable[[Context[StoreT]], list[Route]]
    version: int = 1
    notices: Callable[[], NoticeRules[Any]] | None = None


STAGE = ProjectionSpec(
    "stage", stage.apply, StageStore, stage_queries.routes, version=3, notices=StageNotices
)
HEALTH = ProjectionSpec(
    "health", health.apply, HealthStore, health_queries.routes, version=4, notices=HealthNotices
)
PROPOSALS = ProjectionSpec(
    "proposals",
    proposals.apply,
    ProposalsStore,
    proposals_queries.routes,
    version=4,
    notices=ProposalNotices,
)
SPECS: dict[str, ProjectionSpec[Any]] = {spec.name: spec for spec in (STAGE, HEALTH, PROPOSALS)}
