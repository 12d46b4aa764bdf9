"""Where a projection's store lives: generations of SQLite files behind a pointer file.

`<name>.current` names the store in use (default `<name>.db`). A replay builds the next
generation beside it and swaps by rewriting the pointer atomically, so a reader never sees a
half-built store and SQLite files are never renamed under open connections.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class StoreInUse(RuntimeError):
    """Another process already projects into this store."""


def pointer_file(data_dir: Path, name: str) -> Path:
    """The file naming the store generation in use."""
    return data_dir / f"{name}.current"


def current_store(data_dir: Path, name: str) -> Path:
    """The store generation in use."""
    pointer = pointer_file(data_dir, name)
    if pointer.exists():
        chosen = pointer.read_text().strip()
        if chosen:
            return data_dir / chosen
    return data_dir / f"{name}.db"


def next_store(data_dir: Path, name: str) -> Path:
    """A fresh path for the next generation (removing leftovers of an interrupted replay)."""
    current = current_store(data_dir, name).name
    match = re.fullmatch(rf"{re.escape(name)}\.(\d+)\.db", current)
    generation = int(match.group(1)) + 1 if match else 1
    path = data_dir / f"{name}.{generation}.db"
    remove_store(path)
    return path


def publish_store(data_dir: Path, name: str, path: Path) -> None:
    """Point `<name>.current` at `path`, atomically."""
    pointer = pointer_file(data_dir, name)
    scratch = pointer.with_suffix(".current.tmp")
    with scratch.open("w") as handle:
        handle.write(path.name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(scratch, pointer)


def remove_store(path: Path) -> None:
    """Delete a store file and its WAL companions."""
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def lock_projection(data_dir: Path, name: str, *, wait: bool = False) -> IO[bytes]:
    """Hold the projection's lock for this process's lifetime (one writer per data dir)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / f"{name}.lock").open("wb")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        handle.close()
        raise StoreInUse(
            f"another process is already projecting {name} into {data_dir}; give each replica "
            "its own --data-dir and RAPPORT_INSTANCE"
        ) from None
    return handle
