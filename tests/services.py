"""A Rapport service as its own process (`rapport service NAME`), for tests that kill one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from services.nats.broker import status_of
from tests.conftest import wait_for

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS

    from services.projection.service import ProjectionService


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
    return int((await status_of(nc, name) or {}).get("applied_seq", -1))


async def wait_kept(service: ProjectionService[Any], within: float = 30) -> None:
    """Wait for a round of the service's store upkeep that started after this call."""
    since = time.time()

    def kept() -> bool:
        at = service.status().get("kept_at")
        return at is not None and at >= since

    await wait_for(kept, within=within, what=f"a round of the {service.name} store's upkeep")
