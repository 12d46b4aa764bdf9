"""The projections Rapport runs, by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services import health_queries, identity, proposals_queries, stage_queries

if TYPE_CHECKING:
    from services.projection_service import ProjectionSpec

# The projections that answer queries, each its own service.
SPECS: dict[str, ProjectionSpec] = {
    spec.name: spec for spec in (stage_queries.SPEC, health_queries.SPEC, proposals_queries.SPEC)
}
# Everything `rapport replay` rebuilds: those, and the index of event ids (in the ingest service).
REBUILDABLE: dict[str, ProjectionSpec] = {**SPECS, identity.SPEC.name: identity.SPEC}
