"""The one registry of Rapport's services: their names, and which of them are projections.

Everything that starts, pings, measures or lists services reads it here; how each one runs
is the entry point's business (`services/entry/processes.py`).
"""

from __future__ import annotations

PROJECTIONS: tuple[str, ...] = ("stage", "health", "proposals")
SERVICES: tuple[str, ...] = (*PROJECTIONS, "ingest", "gateway", "webhooks")
