"""`rapport config owner EMAIL`: who you are, said once, so `today` shows yours by default.

Kept in `<data-dir>/cli.json` (readable by you alone). `--owner` on a command, then
`RAPPORT_OWNER`, then this file: the first one given wins.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from services.cli.asking import emit_json
from services.cli.common import DataDir, Json, app, console, fail, load_settings
from services.config.settings import Settings

config_app = typer.Typer(help="Settings of the command line, kept in DATA/cli.json.")
app.add_typer(config_app, name="config")

FILE_NAME = "cli.json"
OWNER = re.compile(r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$")


def config_path(settings: Settings) -> Path:
    """Where the command line keeps its settings."""
    return settings.data_dir / FILE_NAME


def read_config(settings: Settings) -> dict[str, Any]:
    """The stored settings (none yet: empty); a file that cannot be read fails in words."""
    path = config_path(settings)
    try:
        stored = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except OSError as exc:
        fail(f"{path}: cannot read it ({exc.strerror})")
    except orjson.JSONDecodeError as exc:
        fail(f"{path}: not JSON ({exc}); fix it, or remove it and say `rapport config` again")
    if not isinstance(stored, dict):
        fail(f"{path}: must hold a JSON object; remove it and say `rapport config` again")
    return stored


def write_config(settings: Settings, values: dict[str, Any]) -> Path:
    """Store the settings, readable and writable by their owner only (0600)."""
    path = config_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_suffix(".json.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(orjson.dumps(values, option=orjson.OPT_INDENT_2) + b"\n")
    os.replace(partial, path)
    return path


def owner_problem(owner: str) -> str | None:
    """Why an owner cannot be stored, or None."""
    if len(owner) > 256:
        return "at most 256 characters"
    if not OWNER.match(owner):
        return "must hold some text (not only spaces) and no control characters"
    return None


def configured_owner(settings: Settings) -> str | None:
    """Who "mine" is: `--owner` or RAPPORT_OWNER (in `settings`), else `rapport config owner`."""
    if settings.owner:
        return settings.owner
    stored = read_config(settings).get("owner")
    return stored if isinstance(stored, str) and stored else None


@config_app.command("owner")
def owner(
    email: Annotated[
        str | None,
        typer.Argument(help="your email as owner of relationships (none: show the current)"),
    ] = None,
    as_json: Json = False,
    data_dir: DataDir = None,
) -> None:
    """Say who you are once: `rapport today` then shows your relationships by default."""
    settings = load_settings(data_dir=data_dir, find_running=False)
    path = config_path(settings)
    if email is None:
        current = configured_owner(settings)
        source = "RAPPORT_OWNER" if settings.owner else str(path)
        if as_json:
            emit_json({"owner": current, "source": source if current else None})
        elif current:
            console.print(f"owner: {current} (from {source})", highlight=False)
        else:
            console.print("no owner set: say `rapport config owner EMAIL`")
        return
    email = email.strip()
    problem = owner_problem(email)
    if problem:
        fail(f"EMAIL: {problem}", 2)
    write_config(settings, {**read_config(settings), "owner": email})
    if as_json:
        emit_json({"owner": email, "source": str(path)})
    else:
        console.print(f"owner: {email} (kept in {path})", highlight=False)
