"""A process the supervisor keeps alive: restarted with backoff, with a log line each time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable

FIRST_DELAY = 0.5  # seconds before the first restart
MAX_DELAY = 30.0  # the longest wait between restarts
STEADY = 60.0  # up this long, and the next death restarts at once again


@dataclass
class Supervised:
    """One child process: how to start it, and when to start it again after it died."""

    name: str
    start: Callable[[], subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    delay: float = FIRST_DELAY
    restart_at: float | None = None  # when a dead process is started again (None: running)
    restarts: int = 0

    def launch(self) -> None:
        """Start the process now."""
        self.process = self.start()
        self.started_at = time.monotonic()
        self.restart_at = None

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def died(self) -> str | None:
        """If it died since the last look: schedule its restart and say so (else None)."""
        if self.process is None or self.restart_at is not None or self.alive:
            return None
        now = time.monotonic()
        if now - self.started_at > STEADY:
            self.delay = FIRST_DELAY  # it had been well: start again at once
        self.restart_at = now + self.delay
        code = self.process.returncode
        message = f"{self.name} exited with code {code}; restarting it in {self.delay:g} s"
        self.delay = min(MAX_DELAY, self.delay * 2)
        return message

    def due(self) -> bool:
        """True when a scheduled restart should happen now."""
        return self.restart_at is not None and time.monotonic() >= self.restart_at

    def relaunch(self) -> None:
        """Start it again (after `died`)."""
        self.restarts += 1
        self.launch()
