"""What one baseline run measured, and the guards every baseline runs first."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True, slots=True)
class BaselineResult:
    """Events processed, wall-clock seconds, their rate, and what exactly was timed."""

    name: str
    events: int
    seconds: float
    eps: float
    notes: str
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def measured(
        cls, name: str, events: int, seconds: float, notes: str, **details: Any
    ) -> BaselineResult:
        """A result whose `eps` is `events / seconds`."""
        eps = events / seconds if seconds > 0 else 0.0
        return cls(name, events, seconds, eps, notes, dict(details))


class NotLoopback(ValueError):
    """A benchmark was pointed at a server that is not on this machine's loopback."""


def require_loopback(nats_url: str) -> str:
    """Return `nats_url` when it names a loopback address; refuse anything else."""
    host = urlsplit(nats_url if "://" in nats_url else f"nats://{nats_url}").hostname or ""
    if host == "localhost":
        return nats_url
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NotLoopback(f"benchmarks only talk to a loopback server, not {nats_url!r}")
    return nats_url


def require_fresh(workdir: Path, *files: str) -> None:
    """Refuse a workdir that already holds a baseline's SQLite files (it would resume, not run)."""
    found = [name for name in files if (workdir / name).exists()]
    if found:
        raise FileExistsError(f"{workdir} already holds {', '.join(found)}: use a fresh workdir")


class DropCounter:
    """A NATS error callback that counts slow-consumer drops instead of printing each."""

    def __init__(self) -> None:
        self.slow_consumer = 0

    async def note(self, error: Exception) -> None:
        """Count a drop (other errors surface where they happen)."""
        if type(error).__name__ == "SlowConsumerError":
            self.slow_consumer += 1
