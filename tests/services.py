"""A Rapport service as its own process (`rapport service NAME`), for tests that kill one."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import orjson

from events.subjects import ping_subject

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS


def start_service(name: str, url: str, data_dir: Path, batch_size: int) -> subprocess.Popen[bytes]:
    """`rapport service NAME` on this server and data dir, folding `batch_size` events at once."""
    env = {**os.environ, "RAPPORT_NATS_URL": url, "RAPPORT_DATA_DIR": str(data_dir)}
    env["RAPPORT_BATCH_SIZE"] = str(batch_size)
    return subprocess.Popen(
        [sys.executable, "-m", "services", "service", name],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def applied_seq(nc: NATS, name: str) -> int:
    """What the service says it has applied (-1 while it does not answer)."""
    try:
        reply = await nc.request(ping_subject(name), b"", timeout=0.5)
    except Exception:
        return -1
    return int(orjson.loads(reply.data).get("applied_seq", -1))
