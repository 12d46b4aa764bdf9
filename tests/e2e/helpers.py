"""Run `rapport` as a user would: subprocesses, real ports, a temp working directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from services.nats.embedded import die_with_parent, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

RAPPORT = [sys.executable, "-m", "services"]


@dataclass
class Up:
    """A running `rapport up`."""

    process: subprocess.Popen[bytes]
    nats_url: str
    http_url: str
    data_dir: Path
    log: Path

    def rapport(
        self, *args: str, stdin: str | None = None, columns: int = 200
    ) -> subprocess.CompletedProcess[str]:
        """Run another `rapport` command against this instance (in a terminal `columns` wide)."""
        return subprocess.run(
            [*RAPPORT, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "RAPPORT_NATS_URL": self.nats_url, "COLUMNS": str(columns)},
            cwd=self.data_dir.parent,  # beside its data dir: the CLI finds its credentials
            check=False,
        )

    def children(self) -> list[int]:
        """Pids of the processes `rapport up` started."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        fields = stat.read().rsplit(") ", 1)[1].split()
                except (FileNotFoundError, IndexError):
                    continue
                if int(fields[1]) == self.process.pid and fields[0] != "Z":
                    found.append(int(entry))
        return found


def alive(pid: int) -> bool:
    """True while a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@contextmanager
def rapport_up(
    workdir: Path, *extra: str, ready_within: float = 90, env: dict[str, str] | None = None
) -> Iterator[Up]:
    """Start `rapport up` in `workdir` on free ports; stop it with SIGINT (Ctrl-C) after."""
    nats_port, http_port = free_port(), free_port()
    log = workdir / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*RAPPORT, "up", "--nats-port", str(nats_port), "--http-port", str(http_port), *extra],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200", **(env or {})},
            preexec_fn=die_with_parent,  # a test killed by its timeout leaves nothing running
        )
    up = Up(
        process,
        f"nats://127.0.0.1:{nats_port}",
        f"http://127.0.0.1:{http_port}",
        workdir / "rapport-data",
        log,
    )
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if process.poll() is not None:
                raise AssertionError(f"rapport up exited early:\n{log.read_text()}")
            try:
                if httpx.get(f"{up.http_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"rapport up not healthy in time:\n{log.read_text()}")
            time.sleep(0.2)
        yield up
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cli(up: Up, *args: str) -> subprocess.CompletedProcess[str]:
    """A command in an 80-column terminal; what it prints must fit there."""
    done = up.rapport(*args, columns=80)
    for line in (done.stdout + done.stderr).splitlines():
        assert len(line) <= 80, f"{args}: a line of {len(line)} columns:\n{line}"
    return done


def cli_json(up: Up, *args: str) -> Any:
    """A command's `--json` answer (JSON need not fit 80 columns: it is for programs)."""
    done = up.rapport(*args, "--json", columns=80)
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return json.loads(done.stdout)
