"""The notice outbox: forgetting exactly what was sent; sending more than a round holds, in order."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from events.subjects import NOTICES_FILTER, NOTICES_STREAM
from projections.stage.store import StageStore
from services.nats.log_reader import DirectReader
from services.notices.outbox import CHUNK, OutboxPublisher
from tests.conftest import wait_for

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS

    from projections.store_base import OutboxRow


def row(number: int) -> OutboxRow:
    """A stage notice with a numbered id (the body is what the stream stores)."""
    notice_id = f"stage.changed:e{number}"
    body = orjson.dumps({"id": notice_id, "n": number})
    return (notice_id, "rapport.notice.rel-1.stage.changed", body)


async def test_sent_notices_are_forgotten_and_no_others(tmp_path: Path) -> None:
    store = StageStore(tmp_path / "stage.db")
    await store.open()
    try:
        await store.add_notices([row(i) for i in range(10)], {})
        numbers = [n for n, _ in await store.unsent_notices(10)]
        await store.add_notices([row(10)], {})  # committed while the first ten are in flight
        await store.notices_sent(numbers[:4])  # a run of numbers
        await store.notices_sent([numbers[5], numbers[7]])  # not a run
        left = [notice_id for _, (notice_id, _, _) in await store.unsent_notices(100)]
        assert left == [f"stage.changed:e{i}" for i in (4, 6, 8, 9, 10)]
    finally:
        await store.close()


async def test_more_notices_than_a_round_holds_go_out_once_each_in_order(
    nc: NATS, tmp_path: Path
) -> None:
    store = StageStore(tmp_path / "stage.db")
    await store.open()
    count = 2 * CHUNK + 17
    # in several commits, as batches bring them, one of them twice (a repeated commit)
    await store.add_notices([row(i) for i in range(CHUNK + 5)], {})
    await store.add_notices([row(i) for i in range(CHUNK, count)], {})
    publisher = OutboxPublisher(nc, lambda: store, "stage")
    publisher.start()
    try:

        async def all_sent() -> bool:
            return not await store.unsent_notices(1)

        await wait_for(all_sent, within=30, what="the outbox to empty")
    finally:
        await publisher.stop()
        await store.close()
    reader = DirectReader(nc, stream=NOTICES_STREAM)
    try:
        stored = [orjson.loads(m.data)["n"] for m in await reader.read(NOTICES_FILTER)]
    finally:
        await reader.close()
    assert stored == list(range(count))
    assert publisher.published == count
