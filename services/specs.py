"""The projections Rapport runs, by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services import health_queries, proposals_queries, stage_queries

if TYPE_CHECKING:
    from services.projection_service import ProjectionSpec

SPECS: dict[str, ProjectionSpec] = {
    spec.name: spec for spec in (stage_queries.SPEC, health_queries.SPEC, proposals_queries.SPEC)
}
