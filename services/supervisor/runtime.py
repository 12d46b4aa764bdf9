"""`rapport up`: the embedded NATS server, the streams and every service, as one process tree.

It locks the data dir before it starts anything, makes the credentials of every role on first
start (the embedded server always requires them), creates the streams as `admin`, and runs
each service as its own process with its own role. Then it keeps everything alive: a service
or the NATS server that dies is started again with backoff, with a line in the log each time;
a full disk is noticed and reported, and once there is room again the NATS server is
restarted so JetStream writes again. `rapport.ctl.up.ping` says how it all is.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import signal
import subprocess
import sys
import time
from typing import IO, TYPE_CHECKING, Any

import orjson
from pydantic import SecretStr
from rich.table import Table

from events.subjects import ping_subject
from services.config.failures import Failure
from services.config.roster import PROJECTIONS, SERVICES
from services.config.tokens import LOOPBACK, TokenConfigError, TokenRegistry, http_host_for
from services.nats import roles
from services.nats.broker import status_of
from services.nats.connection import connect
from services.nats.credentials import Credential, credentials_dir, ensure_credentials, write_up
from services.nats.embedded import EmbeddedNats, die_with_parent, port_is_free
from services.nats.streams import ensure_streams
from services.supervisor.children import Supervised
from services.supervisor.disk import DiskWatch

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS
    from nats.aio.msg import Msg
    from rich.console import Console

    from services.config.settings import Settings

UP = "up"  # the supervisor's own name on the control subjects
CREDENTIAL_ENV: tuple[str, ...] = (
    "RAPPORT_NATS_USER",
    "RAPPORT_NATS_PASSWORD",
    "RAPPORT_NATS_TOKEN",
    "RAPPORT_NATS_NKEY_SEED",
    "RAPPORT_NATS_CREDS",
)


class RuntimeFailure(Failure):
    """`rapport up` cannot go on; the message says why."""


class Runtime:
    """Starts everything, keeps it alive, and stops it all on Ctrl-C or SIGTERM."""

    def __init__(self, settings: Settings, console: Console, *, demo: bool = False) -> None:
        self.settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve()})
        self.console = console
        self.demo = demo
        self.embedded: EmbeddedNats | None = None
        self.nats_child: Supervised | None = None
        self.http_host = settings.http_host
        self.http_notice: str | None = None
        self.children: dict[str, Supervised] = {}
        self.credentials: dict[str, Credential] = {}
        self.disk = DiskWatch(self.settings.data_dir)
        self._lock: IO[bytes] | None = None
        self._nc: NATS | None = None
        self.started = time.time()

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
            await self._stop_everything()
            self.console.print("[bold]Rapport stopped.[/]")

    # -- starting -------------------------------------------------------------------------

    async def _start(self) -> None:
        settings = self.settings
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(settings.data_dir, 0o700)  # it holds stores and credentials
        self._lock = lock_data_dir(settings.data_dir)  # before anything else starts
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
            await self._start_embedded()
        self._nc = await connect(self.settings, UP, retry_forever=True)
        await self._nc.subscribe(ping_subject(UP), cb=self._ping)
        await ensure_streams(
            self._nc.jetstream(),
            settings.replicas,
            settings.duplicate_window,
            create=True,
            notice_days=settings.notice_days,
        )
        for name in SERVICES:
            child = Supervised(f"service {name}", functools.partial(self._spawn, name))
            child.launch()
            self.children[name] = child
        with self.console.status("starting the services"):
            await self._wait_ready(deadline=time.monotonic() + 60)
        write_up(
            settings.data_dir,
            nats_url=self.settings.nats_url,
            http_url=f"http://{self.http_host}:{settings.http_port}",
            pid=os.getpid(),
            started=self.started,
        )

    async def _start_embedded(self) -> None:
        """The embedded server, demanding the credentials of every role (made on first start)."""
        settings = self.settings
        names = [*roles.PEOPLE, *SERVICES]
        self.credentials = ensure_credentials(settings.data_dir, names)
        quoted = {name: roles.quote(c.password) for name, c in self.credentials.items()}
        authorization = roles.render(quoted, {p: [settings.instance] for p in PROJECTIONS})
        admin = self.credentials["admin"]
        self.embedded = EmbeddedNats(
            settings.data_dir / "nats",
            port=settings.nats_port,
            auth={"user": admin.user, "password": admin.password},
            authorization=authorization,
        )
        with self.console.status("starting the embedded NATS server"):
            await self.embedded.start()
        self.nats_child = Supervised("the embedded NATS server", self._respawn_embedded)
        self.nats_child.process = self.embedded.process
        self.nats_child.started_at = time.monotonic()
        self.settings = settings.model_copy(
            update={
                "nats_url": self.embedded.url,
                "nats_user": admin.user,
                "nats_password": SecretStr(admin.password),
                "nats_token": None,
                "nats_nkey_seed": None,
                "nats_creds": None,
            }
        )

    def _respawn_embedded(self) -> subprocess.Popen[bytes]:
        assert self.embedded is not None
        self.embedded.spawn()
        assert self.embedded.process is not None
        return self.embedded.process

    def _spawn(self, name: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_ENV}
        env.update(
            RAPPORT_NATS_URL=str(self.settings.nats_url),
            RAPPORT_DATA_DIR=str(self.settings.data_dir),
            RAPPORT_HTTP_HOST=self.settings.http_host,
            RAPPORT_HTTP_PORT=str(self.settings.http_port),
        )
        if name in self.credentials:  # the embedded server: each service its own role
            env.update(
                RAPPORT_NATS_USER=self.credentials[name].user,
                RAPPORT_NATS_PASSWORD=self.credentials[name].password,
            )
        else:  # an outside NATS: the credentials the operator configured, as given
            env.update({k: v for k, v in os.environ.items() if k in CREDENTIAL_ENV})
        return subprocess.Popen(
            [sys.executable, "-m", "services", "service", name],
            env=env,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            start_new_session=True,  # stopped in order by this process, not by Ctrl-C
        )

    async def _wait_ready(self, deadline: float) -> None:
        waiting = set(self.children)
        while waiting:
            for name in sorted(waiting):
                child = self.children[name]
                if not child.alive:
                    code = child.process.returncode if child.process else None
                    raise RuntimeFailure(
                        f"service {name} exited with code {code} while starting; its log is above"
                    )
                if await self._answers(name):
                    waiting.discard(name)
            if waiting and time.monotonic() > deadline:
                raise RuntimeFailure(f"services did not start in time: {', '.join(waiting)}")
            if waiting:
                await asyncio.sleep(0.1)

    async def _answers(self, name: str) -> bool:
        assert self._nc is not None
        if await status_of(self._nc, name, within=0.5) is None:
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
        if self.credentials:
            folder = credentials_dir(settings.data_dir)
            table.add_row(
                "credentials", f"{folder}/<role>.json  (producer, reader, admin, one per service)"
            )
        http = f"http://{self.http_host}:{settings.http_port}"
        table.add_row("HTTP", f"{http}   docs {http}/docs   health {http}/healthz")
        table.add_row("dashboard", f"{http}/")
        table.add_row("ingest", "NATS request to rapport.ingest, or POST /v1/events")
        table.add_row("data", str(settings.data_dir))
        for name, child in sorted(self.children.items()):
            pid = child.process.pid if child.process else "-"
            table.add_row(f"service {name}", f"pid {pid}")
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

    # -- keeping it alive ----------------------------------------------------------------

    async def _watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if stop.is_set():
                return
            self._heal(self.nats_child)
            for child in self.children.values():
                self._heal(child)
            self._mind_the_disk()

    def _heal(self, child: Supervised | None) -> None:
        if child is None:
            return
        said = child.died()
        if said:
            self.console.print(f"[yellow]{said}[/]")
        if child.due():
            self.console.print(f"restarting {child.name} (restart {child.restarts + 1})")
            child.relaunch()

    def _mind_the_disk(self) -> None:
        """Report a full disk; once there is room again, restart NATS so JetStream writes."""
        log_file = self.embedded.log_file if self.embedded is not None else None
        change = self.disk.look(log_file)
        if change == "full":
            self.console.print(f"[red]{self.disk.problem}[/]")
        elif change == "room again":
            self.console.print("[green]the disk has room again[/]")
            if self.nats_child is not None and self.nats_child.alive:
                self.console.print("restarting the embedded NATS server so JetStream writes again")
                assert self.embedded is not None
                self.embedded.stop()  # the watch starts it again at once
                self.nats_child.delay = 0.0

    async def _ping(self, msg: Msg) -> None:
        """Say how everything is: what is down, and why."""
        problems = []
        if self.nats_child is not None and not self.nats_child.alive:
            problems.append("the embedded NATS server is down (restarting)")
        problems += [
            f"{c.name} is down (restarting)" for c in self.children.values() if not c.alive
        ]
        if self.disk.problem:
            problems.append(self.disk.problem)
        status: dict[str, Any] = {
            "service": UP,
            "pid": os.getpid(),
            "uptime_s": time.time() - self.started,
            "problem": "; ".join(problems) or None,
            "restarts": {name: child.restarts for name, child in self.children.items()},
        }
        if self.nats_child is not None:
            status["restarts"]["nats"] = self.nats_child.restarts
        with contextlib.suppress(Exception):
            await msg.respond(orjson.dumps(status))

    # -- stopping -------------------------------------------------------------------------

    async def _stop_everything(self) -> None:
        for child in self.children.values():
            if child.alive:
                assert child.process is not None
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in self.children.values():
            if child.process is None:
                continue
            try:
                remaining = max(0.1, deadline - time.monotonic())
                await asyncio.to_thread(child.process.wait, remaining)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
        if self.embedded is not None:
            self.embedded.stop()
        if self._lock is not None:
            self._lock.close()


def lock_data_dir(data_dir: Path) -> IO[bytes]:
    """Hold the data dir for this `rapport up`; refuse, saying who holds it, if another does."""
    from services.nats.credentials import read_up

    handle = (data_dir / "up.lock").open("a+b")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        running = read_up(data_dir)
        where = ""
        if running:
            where = (
                f" (pid {running.get('pid')}, NATS at {running.get('nats_url')}, "
                f"HTTP at {running.get('http_url')})"
            )
        raise RuntimeFailure(
            f"another `rapport up` already runs on {data_dir}{where}; stop it first, or give "
            "this one another --data-dir"
        ) from None
    return handle
