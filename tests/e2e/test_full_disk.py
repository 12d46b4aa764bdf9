"""A full disk under `rapport up`: clear errors, then recovery without a restart, nothing lost.

The data dir lives on a small tmpfs of its own (mounting one needs root: skipped otherwise).
A file fills it up while events are sent; the ingest refuses them in words (`unavailable`,
nothing half-stored), /healthz answers 503 and says the disk is full; once the file is gone,
everything works again by itself and the refused events, sent again with the same ids, are
stored once each. Every projection then equals a clean rebuild.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import shutil
import subprocess
import time
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest

from events.subjects import EVENTS_STREAM, INGEST_SUBJECT
from tests.e2e.helpers import rapport_up
from tests.e2e.test_supervisor import (
    applied_everywhere,
    compare_with_clean_rebuilds,
    connect_as,
    healthy,
    stored_keys,
)
from tests.factories import event
from tests.publishing import ingest_retrying
from tests.rebuild import read_log

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from nats.aio.client import Client as NATS

SIZE_MB = 128


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of SIZE_MB mounted at tmp_path/disk (skipped where mounting is not allowed)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(disk)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        with contextlib.suppress(OSError):  # the log outlives the disk, for a failure's reader
            shutil.copy(disk / "up.log", tmp_path / "up.log")
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no room left; the file."""
    filler = disk / "filler"
    chunk = b"\0" * (1024 * 1024)
    with filler.open("wb") as handle:
        for _ in range(SIZE_MB * 2):  # bounded: the disk is SIZE_MB
            try:
                handle.write(chunk)
                handle.flush()
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    with contextlib.suppress(OSError), filler.open("ab") as handle:
        for _ in range(1024):  # the last few kilobytes
            handle.write(b"\0" * 1024)
            handle.flush()
    return filler


def lawful(count: int, start: int) -> list[dict[str, Any]]:
    """Interactions over a few relationships: nothing the rules refuse."""
    return [
        event(
            "interaction.recorded",
            f"disk-{n % 7}",
            {"kind": "call", "direction": "outbound", "notes": "x" * 400},
            days=n / 100,
            event_id=f"disk-{n}",
        )
        for n in range(start, start + count)
    ]


async def healthz(up_url: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(f"{up_url}/healthz")
        body: dict[str, Any] = response.json()
        return response.status_code, body


async def refused_while_full(producer: NATS, envelopes: list[dict[str, Any]]) -> list[str]:
    """Send until the ingest refuses (bounded); the refusals' words."""
    for start in range(0, len(envelopes), 20):
        try:
            message = await producer.request(
                INGEST_SUBJECT, orjson.dumps(envelopes[start : start + 20]), timeout=15
            )
        except Exception:  # no answer in time is an answer too: nothing confirmed
            continue
        reply = orjson.loads(message.data)
        errors = [r for r in reply.get("rejected", []) if r["code"] == "unavailable"]
        if errors:
            return [r["error"] for r in errors]
    return []


async def test_a_full_disk_is_said_and_healed_without_a_restart(small_disk: Path) -> None:
    with rapport_up(small_disk) as up:
        producer = await connect_as(up, "producer")
        admin = await connect_as(up, "admin")
        try:
            before = lawful(200, 0)
            acked = await ingest_retrying(producer, before, time.monotonic() + 60, batch=20)
            assert len(acked) == len(before)

            filler = fill(small_disk)
            during = lawful(3000, 200)
            errors = await refused_while_full(producer, during)
            assert errors, "the ingest took every event on a full disk"
            assert all("retry" in error and "Traceback" not in error for error in errors), errors

            deadline = time.monotonic() + 30
            while True:  # /healthz says so, in words
                status, body = await healthz(up.http_url)
                said = " ".join(body.get("problems", [])).lower()
                if status == 503 and "disk" in said and "full" in said:
                    break
                assert time.monotonic() < deadline, (status, body)
                await asyncio.sleep(0.2)

            filler.unlink()  # room again: everything heals by itself
            await healthy(up, 90)
            acked |= await ingest_retrying(producer, during, time.monotonic() + 120, batch=20)
            assert up.process.poll() is None  # never restarted by anyone

            stored = [orjson.loads(data)["id"] for _, _, data in await read_log(admin)]
            assert len(stored) == len(set(stored)), "an event was stored twice"
            assert set(stored) == set(acked) == {e["id"] for e in before + during}
            info = await admin.jetstream(timeout=10).stream_info(EVENTS_STREAM)
            await applied_everywhere(admin, info.state.last_seq, 60)
            await compare_with_clean_rebuilds(
                up, admin, small_disk.parent / "oracle", stored_keys(before + during)
            )
        finally:
            await producer.close()
            await admin.close()
