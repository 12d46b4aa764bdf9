"""Noticing a full disk, and when it has room again.

The data dir's free space is looked at every half second; so are the embedded server's last
log lines, where JetStream says when it could not write ("no space left on device", "resource
limits exceeded"). Below `LOW` bytes free, or after such a line, the disk is full; it has room
again once `ROOMY` bytes are free. JetStream does not write again by itself after a full disk
(its limits are set when it starts, and a failed write marks its store): the supervisor then
restarts the server.
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pathlib import Path

LOW = 16 * 1024 * 1024  # bytes free below which Rapport calls the disk full
ROOMY = 32 * 1024 * 1024  # bytes free above which it has room again
FULL_MARKS = ("no space left on device", "resource limits exceeded", "insufficient resources")
TAIL = 8192  # bytes of the server's log looked at
SETTLE = 5.0  # seconds a full disk is reported before it may be called roomy again

Change = Literal["full", "room again"] | None


class DiskWatch:
    """The state of the disk under a data dir: full (with why) or not."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.problem: str | None = None
        self._log_seen = 0  # how far the server's log was read
        self._full_since = 0.0

    def look(self, server_log: Path | None) -> Change:
        """Look again; say when the disk became full or has room again."""
        free = shutil.disk_usage(self.data_dir).free
        said = self._server_said_full(server_log)
        if self.problem is None and (free < LOW or said):
            why = said or f"{free // (1024 * 1024)} MB free"
            self.problem = f"disk full where {self.data_dir} lives ({why}): free some space"
            self._full_since = time.monotonic()
            return "full"
        settled = time.monotonic() - self._full_since > SETTLE
        if self.problem is not None and free >= ROOMY and settled:
            # the server keeps failing until it restarts, so its log is not asked here
            self.problem = None
            return "room again"
        return None

    def _server_said_full(self, server_log: Path | None) -> str | None:
        """A line of the server's log, since the last look, that says it could not write."""
        if server_log is None:
            return None
        try:
            size = server_log.stat().st_size
            if size < self._log_seen:  # a new log after a restart
                self._log_seen = 0
            with server_log.open("rb") as handle:
                handle.seek(max(self._log_seen, size - TAIL))
                text = handle.read().decode(errors="replace")
            self._log_seen = size
        except OSError:
            return None
        for line in reversed(text.splitlines()):
            if any(mark in line for mark in FULL_MARKS):
                return f"NATS: {line.split(']', 2)[-1].strip()[:160]}"
        return None
