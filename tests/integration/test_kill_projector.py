"""kill -9 a projection service mid-stream and restart it: nothing applied twice or lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from events import parse_event
from events.subjects import ping_subject
from projections.stage.fold import funnel_contribution, funnel_reply
from services.projection.registry import SPECS
from tests.publishing import publish_all, workload

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS

    from services.nats.embedded import EmbeddedNats

EVENTS = 12_000


def start_service(name: str, url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RAPPORT_NATS_URL": url, "RAPPORT_DATA_DIR": str(data_dir)}
    env["RAPPORT_BATCH_SIZE"] = "250"
    return subprocess.Popen(
        [sys.executable, "-m", "services", "service", name],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def applied_seq(nc: NATS, name: str) -> int:
    try:
        reply = await nc.request(ping_subject(name), b"", timeout=0.5)
    except Exception:
        return -1
    return int(orjson.loads(reply.data).get("applied_seq", -1))


async def wait_applied(nc: NATS, name: str, at_least: int, within: float = 60) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        seq = await applied_seq(nc, name)
        if seq >= at_least:
            return seq
    pytest.fail(f"{name} did not reach seq {at_least} within {within}s")


@pytest.mark.parametrize("name", ["stage", "health", "proposals"])
async def test_kill_nine_mid_stream_then_restart(
    name: str, nats_server: EmbeddedNats, nc: NATS, tmp_path: Path
) -> None:
    envelopes = workload(EVENTS)
    await publish_all(nc, envelopes)

    service = start_service(name, nats_server.url, tmp_path / "data")
    try:
        killed_at = await wait_applied(nc, name, EVENTS // 3)
        service.send_signal(signal.SIGKILL)
        service.wait()
        assert killed_at < EVENTS, "the kill must land mid-stream"
        service = start_service(name, nats_server.url, tmp_path / "data")
        await wait_applied(nc, name, EVENTS)
    finally:
        service.terminate()
        service.wait(30)

    spec = SPECS[name]
    store = spec.store(tmp_path / "data" / f"{name}.db")
    await store.open()
    try:
        expected: dict[str, Any] = {}
        for seq, envelope in enumerate(envelopes, start=1):
            parsed = parse_event(orjson.dumps(envelope))
            try:
                expected[parsed.subject] = spec.fold(expected.get(parsed.subject), parsed, seq)
            except ValueError:
                continue  # dead-lettered by the service too
        stored = await store.load_rows(sorted(expected))
        assert stored == expected
        assert await store.checkpoint() == EVENTS
        if name == "stage":  # counts kept by deltas would drift if a batch applied twice
            totals: dict[tuple[str, str], int] = {}
            for view in expected.values():
                for (_, measure, key), count in funnel_contribution(view).items():
                    totals[(measure, key)] = totals.get((measure, key), 0) + count
            assert await store.funnel() == funnel_reply(totals)
    finally:
        await store.close()
