"""The oracle of the fault tests: a fresh `rapport replay` into another data dir, row by row.

A store that survived kills, restarts and retries must equal a store rebuilt from the log from
scratch, by a process that saw no fault at all. The comparison is of rows, checkpoints and
(for the stage projection) the funnel counts that are kept by deltas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from events.subjects import EVENTS_FILTER
from projections.stage.store import StageStore
from services.nats.log_reader import DirectReader
from services.projection.registry import SPECS
from services.projection.replay import replay

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS

    from projections.store_base import SqliteStore
    from services.config.settings import Settings


async def read_log(nc: NATS) -> list[tuple[int, str, bytes]]:
    """Every stored message: (seq, subject, data)."""
    reader = DirectReader(nc)
    try:
        return [(m.seq, m.subject, m.data) for m in await reader.read(EVENTS_FILTER)]
    finally:
        await reader.close()


async def snapshot(store: SqliteStore[Any], keys: list[str]) -> dict[str, Any]:
    """What a store holds for these relationships, its checkpoint, and the funnel."""
    shot: dict[str, Any] = {
        "rows": await store.load_rows(keys),
        "checkpoint": await store.checkpoint(),
    }
    if isinstance(store, StageStore):
        shot["funnel"] = await store.funnel()
    return shot


async def assert_equals_a_clean_rebuild(
    settings: Settings, name: str, live: SqliteStore[Any], keys: list[str], oracle_dir: Path
) -> None:
    """The live store of `name` holds exactly what a fresh replay into `oracle_dir` builds."""
    oracle_settings = settings.model_copy(update={"data_dir": oracle_dir})
    report = await replay(oracle_settings, name)
    rebuilt = SPECS[name].store(report.store)
    await rebuilt.open()
    try:
        expected = await snapshot(rebuilt, keys)
    finally:
        await rebuilt.close()
    assert await snapshot(live, keys) == expected, f"{name} differs from a clean rebuild"
