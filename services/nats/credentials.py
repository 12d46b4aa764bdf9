"""The credentials `rapport up` makes for every role, and how commands find them.

On first start, `rapport up` writes one file per role under `<data-dir>/credentials/`
(`producer.json`, `reader.json`, `stage.json`, ..., `admin.json`: `{"user", "password"}`,
mode 0600 in a 0700 folder) and `<data-dir>/up.json` (where its NATS and HTTP listen). Later
starts keep the same passwords. Commands run with `--data-dir` (default `./rapport-data`) read
both, so they reach the `rapport up` that owns that folder with no flags.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

CREDENTIALS_DIR = "credentials"
UP_FILE = "up.json"


@dataclass(frozen=True, slots=True)
class Credential:
    """A NATS user of one role."""

    user: str
    password: str


def credentials_dir(data_dir: Path) -> Path:
    """Where the role files live."""
    return data_dir / CREDENTIALS_DIR


def ensure_credentials(data_dir: Path, names: Iterable[str]) -> dict[str, Credential]:
    """Every role's credential: read from its file, or made (random) and written on first use."""
    folder = credentials_dir(data_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    found: dict[str, Credential] = {}
    for name in names:
        existing = read_credential(data_dir, name)
        if existing is None:
            existing = Credential(name, secrets.token_urlsafe(24))
            _write_private(folder / f"{name}.json", {"user": name, "password": existing.password})
        found[name] = existing
    return found


def read_credential(data_dir: Path, name: str) -> Credential | None:
    """The credential of role `name` kept under `data_dir`, if there is one."""
    path = credentials_dir(data_dir) / f"{name}.json"
    try:
        stored = json.loads(path.read_text())
        return Credential(str(stored["user"]), str(stored["password"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def write_up(data_dir: Path, **where: Any) -> None:
    """Say where the running `rapport up` of this data dir listens (for the commands)."""
    _write_private(data_dir / UP_FILE, where)


def read_up(data_dir: Path) -> dict[str, Any]:
    """What `rapport up` of this data dir said of itself (empty when it never ran)."""
    try:
        found: dict[str, Any] = json.loads((data_dir / UP_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _write_private(path: Path, content: dict[str, Any]) -> None:
    scratch = path.with_suffix(".tmp")
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(content, handle)
    os.replace(scratch, path)
