"""`rapport up`: the embedded NATS server, the streams and every service, as one process tree."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.table import Table

from events.subjects import ping_subject
from services.config.failures import Failure
from services.config.roster import SERVICES
from services.config.tokens import LOOPBACK, TokenConfigError, TokenRegistry, http_host_for
from services.nats.connection import connect
from services.nats.embedded import EmbeddedNats, die_with_parent, port_is_free
from services.nats.streams import ensure_streams

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS
    from rich.console import Console

    from services.config.settings import Settings

# Every service `rapport up` runs, each in its own process (the GIL would otherwise make
# three projectors share one core).
RESTARTS_PER_MINUTE = 5
EMBEDDED_AUTH = ("user", "password", "token")  # what the embedded server can demand


class RuntimeFailure(Failure):
    """`rapport up` cannot go on; the message says why."""


@dataclass
class Child:
    """One service process and its restart history."""

    name: str
    process: subprocess.Popen[bytes]
    restarts: list[float] = field(default_factory=list)


class Runtime:
    """Starts everything, watches it, and stops it all on Ctrl-C or SIGTERM."""

    def __init__(self, settings: Settings, console: Console, *, demo: bool = False) -> None:
        self.settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve()})
        self.console = console
        self.demo = demo
        self.embedded: EmbeddedNats | None = None
        self.http_host = settings.http_host
        self.http_notice: str | None = None
        self.children: dict[str, Child] = {}
        self.stopping = False

    async def run(self) -> None:
        """Run until a stop signal; raise RuntimeFailure when something cannot start."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self._start()
            self._announce()
            if self.demo:
                await self._seed_demo(stop)
            await self._watch(stop)
        finally:
            self.stopping = True
            await self._stop_children()
            if self.embedded is not None:
                self.embedded.stop()
            self.console.print("[bold]Rapport stopped.[/]")

    async def _start(self) -> None:
        settings = self.settings
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(settings.data_dir, 0o700)  # it holds stores and credentials
        if not port_is_free("127.0.0.1", settings.http_port) and settings.http_port:
            raise RuntimeFailure(
                f"HTTP port {settings.http_port} on {settings.http_host} is already in use. "
                "Choose another with --http-port / RAPPORT_HTTP_PORT."
            )
        try:
            registry = TokenRegistry.from_settings(settings)
        except TokenConfigError as exc:
            raise RuntimeFailure(f"API tokens: {exc}") from None
        self.http_host, self.http_notice = http_host_for(settings, registry)
        if settings.nats_url is None:
            # the embedded server demands the credentials the services will present
            auth = {k: v for k, v in settings.nats_auth().items() if k in EMBEDDED_AUTH}
            self.embedded = EmbeddedNats(
                settings.data_dir / "nats", port=settings.nats_port, auth=auth
            )
            with self.console.status("starting the embedded NATS server"):
                await self.embedded.start()
            self.settings = settings = settings.model_copy(update={"nats_url": self.embedded.url})
        nc = await connect(settings, "up", retry_forever=False)
        try:
            await ensure_streams(nc.jetstream(), settings.replicas, settings.duplicate_window)
            for name in SERVICES:
                self._spawn(name)
            with self.console.status("starting the services"):
                await self._wait_ready(nc, deadline=time.monotonic() + 60)
        finally:
            await nc.close()

    def _spawn(self, name: str) -> None:
        env = dict(os.environ)
        env.update(
            RAPPORT_NATS_URL=str(self.settings.nats_url),
            RAPPORT_DATA_DIR=str(self.settings.data_dir),
            RAPPORT_HTTP_HOST=self.settings.http_host,
            RAPPORT_HTTP_PORT=str(self.settings.http_port),
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "services", "service", name],
            env=env,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            start_new_session=True,  # stopped in order by this process, not by Ctrl-C
        )
        previous = self.children.get(name)
        self.children[name] = Child(name, process, previous.restarts if previous else [])

    async def _wait_ready(self, nc: NATS, deadline: float) -> None:
        waiting = set(self.children)
        while waiting:
            for name in sorted(waiting):
                child = self.children[name]
                if child.process.poll() is not None:
                    raise RuntimeFailure(
                        f"service {name} exited with code {child.process.returncode} while "
                        "starting; its log is above"
                    )
                if await self._answers(nc, name):
                    waiting.discard(name)
            if waiting and time.monotonic() > deadline:
                raise RuntimeFailure(f"services did not start in time: {', '.join(waiting)}")
            if waiting:
                await asyncio.sleep(0.1)

    async def _answers(self, nc: NATS, name: str) -> bool:
        try:
            await nc.request(ping_subject(name), b"", timeout=0.5)
        except Exception:
            return False
        if name == "gateway":  # the lifespan answers before the socket is bound
            try:
                _, writer = await asyncio.open_connection(self.http_host, self.settings.http_port)
            except OSError:
                return False
            writer.close()
        return True

    def _announce(self) -> None:
        settings = self.settings
        table = Table(title="Rapport is up", show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        where = f"{settings.nats_url}"
        if self.embedded is not None:
            where += f"  (embedded, store {self.embedded.store_dir})"
        table.add_row("NATS", where)
        http = f"http://{self.http_host}:{settings.http_port}"
        table.add_row("HTTP", f"{http}   docs {http}/docs   health {http}/healthz")
        table.add_row("dashboard", f"{http}/")
        table.add_row("ingest", "NATS request to rapport.ingest, or POST /v1/events")
        table.add_row("data", str(settings.data_dir))
        for name, child in sorted(self.children.items()):
            table.add_row(f"service {name}", f"pid {child.process.pid}")
        self.console.print(table)
        if self.http_notice:
            self.console.print(f"[yellow]{self.http_notice}[/]")
        elif self.http_host in LOOPBACK:
            self.console.print("HTTP listens on loopback only.")
        self.console.print("Press Ctrl-C to stop.")

    async def _seed_demo(self, stop: asyncio.Event) -> None:
        """Seed the demo data (unless stopped first), then say where to look at it."""
        from services.demo.seed import seed_demo

        seeding = asyncio.create_task(seed_demo(self.settings, self.console))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({seeding, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not seeding.done():
            seeding.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await seeding
            return
        try:
            report = seeding.result()
        except Exception as exc:  # the services still run: say why there is no demo data
            self.console.print(f"[yellow]demo data not seeded: {exc}[/]")
            return
        self.console.print(report.summary())
        http = f"http://{self.http_host}:{self.settings.http_port}"
        self.console.print(f"[bold]Demo ready: open the dashboard at {http}/[/]")

    async def _watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if self.embedded is not None and self.embedded.process is not None:
                if self.embedded.process.poll() is not None:
                    raise RuntimeFailure(
                        f"the embedded NATS server exited; see {self.embedded.log_file}"
                    )
            for name, child in list(self.children.items()):
                if stop.is_set() or child.process.poll() is None:
                    continue
                now = time.monotonic()
                child.restarts = [t for t in child.restarts if now - t < 60] + [now]
                if len(child.restarts) > RESTARTS_PER_MINUTE:
                    raise RuntimeFailure(
                        f"service {name} keeps exiting (code {child.process.returncode}); giving up"
                    )
                self.console.print(
                    f"[yellow]service {name} exited with code {child.process.returncode}; "
                    "restarting it[/]"
                )
                self._spawn(name)

    async def _stop_children(self) -> None:
        for child in self.children.values():
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in self.children.values():
            try:
                remaining = max(0.1, deadline - time.monotonic())
                await asyncio.to_thread(child.process.wait, remaining)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
