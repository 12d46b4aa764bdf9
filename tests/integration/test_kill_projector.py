"""kill -9 a projection service mid-stream and restart it: nothing applied twice or lost."""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING

import pytest

from services.config.settings import Settings
from services.projection.registry import SPECS
from services.projection.store_files import current_store
from tests.publishing import publish_all, workload
from tests.rebuild import assert_equals_a_clean_rebuild
from tests.services import applied_seq, start_service

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS

    from services.nats.embedded import EmbeddedNats

EVENTS = 12_000


async def wait_applied(nc: NATS, name: str, at_least: int, within: float = 60) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        seq = await applied_seq(nc, name)
        if seq >= at_least:
            return seq
    pytest.fail(f"{name} did not reach seq {at_least} within {within}s")


async def checkpoint_on_disk(data_dir: Path, name: str) -> int:
    """The checkpoint a stopped (or killed) service left in its store."""
    store = SPECS[name].store(current_store(data_dir, name))
    await store.open()
    try:
        checkpoint: int = await store.checkpoint()
        return checkpoint
    finally:
        await store.close()


@pytest.mark.parametrize("name", ["stage", "health", "proposals"])
async def test_kill_nine_mid_stream_then_restart(
    name: str, nats_server: EmbeddedNats, nc: NATS, tmp_path: Path
) -> None:
    envelopes = workload(EVENTS)
    await publish_all(nc, envelopes)
    data_dir = tmp_path / "data"

    service = start_service(name, nats_server.url, data_dir, 250)
    try:
        await wait_applied(nc, name, EVENTS // 3)
        service.send_signal(signal.SIGKILL)
        service.wait()
        # what the killed process had committed when the kill landed (not what it said before)
        killed_at = await checkpoint_on_disk(data_dir, name)
        assert EVENTS // 3 <= killed_at < EVENTS, "the kill must land mid-stream"
        service = start_service(name, nats_server.url, data_dir, 250)
        await wait_applied(nc, name, EVENTS)
    finally:
        service.terminate()
        service.wait(30)

    settings = Settings(nats_url=nats_server.url, data_dir=data_dir)
    store = SPECS[name].store(current_store(data_dir, name))
    await store.open()
    try:
        keys = sorted({envelope["subject"] for envelope in envelopes})
        await assert_equals_a_clean_rebuild(settings, name, store, keys, tmp_path / "oracle")
        assert await store.checkpoint() == EVENTS
    finally:
        await store.close()
