"""What every `rapport` command shares: the app, options, settings and clear failures."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console

from services.config.failures import Failure
from services.config.settings import Settings
from services.nats.credentials import read_credential, read_up

app = typer.Typer(
    name="rapport",
    help="Track professional relationships from first handshake to partnership.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

NatsUrl = Annotated[
    str | None,
    typer.Option(
        "--nats-url",
        envvar="RAPPORT_NATS_URL",
        help="NATS server URL (default: the embedded server, nats://127.0.0.1:4222)",
        show_default=False,
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="RAPPORT_DATA_DIR",
        help="Where stores and the embedded server live (default: ./rapport-data)",
        show_default=False,
    ),
]
HttpHost = Annotated[
    str | None,
    typer.Option("--http-host", envvar="RAPPORT_HTTP_HOST", help="default: 127.0.0.1"),
]
HttpPort = Annotated[
    int | None,
    typer.Option("--http-port", envvar="RAPPORT_HTTP_PORT", help="default: 8080"),
]
Json = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
Owner = Annotated[str | None, typer.Option("--owner", help="only this owner's relationships")]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="RFC 3339 instant (default: now)", show_default=False)
]
Limit = Annotated[int, typer.Option("--limit", min=1, max=1000, help="rows to show")]
NatsPort = Annotated[
    int | None,
    typer.Option("--nats-port", envvar="RAPPORT_NATS_PORT", help="Embedded NATS port [4222]"),
]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a clear error (no traceback) and exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def load_settings(*, find_running: bool = True, **options: Any) -> Settings:
    """Settings from the environment, overridden by the options given.

    With `find_running` (every command that talks to a running Rapport), what is not given
    is taken from the `rapport up` that owns the data dir: its NATS URL and the admin
    credentials it made (a person at this machine runs these commands as its operator).
    """
    try:
        settings = Settings().with_overrides(**options)
    except ValidationError as exc:
        problems = "; ".join(
            f"RAPPORT_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        fail(f"bad setting: {problems}", 2)
    return running_rapport(settings) if find_running else settings


def running_rapport(settings: Settings) -> Settings:
    """The settings with the URL and credentials of the `rapport up` owning the data dir."""
    found: dict[str, Any] = {}
    if settings.nats_url is None:
        url = read_up(settings.data_dir).get("nats_url")
        if isinstance(url, str):
            found["nats_url"] = url
    if not settings.nats_auth():
        admin = read_credential(settings.data_dir, "admin")
        if admin is not None:
            found.update(nats_user=admin.user, nats_password=SecretStr(admin.password))
    return settings.model_copy(update=found) if found else settings


def _fast_loop() -> Any:
    """uvloop's event loop where it is installed (the HTTP gateway answers faster on it)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(coroutine: Any) -> Any:
    """Run a coroutine, turning Rapport's known failures into clear messages."""
    try:
        with asyncio.Runner(loop_factory=_fast_loop()) as runner:
            return runner.run(coroutine)
    except Failure as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
