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
import socket
import time
from typing import IO, TYPE_CHECKING

from services.config.failures import Failure

if TYPE_CHECKING:
    from pathlib import Path


class StoreInUse(Failure):
    """Another process already projects into this store."""


class ReplayBusy(Failure):
    """Another replay of the same projection is running on this data dir."""


def generation_pattern(name: str) -> re.Pattern[str]:
    """File names of the store generations replay builds: `<name>.<n>.db`."""
    return re.compile(rf"{re.escape(name)}\.(\d+)\.db")


def private_dir(data_dir: Path) -> None:
    """Create the data dir if need be, readable by its owner only (stores hold personal data)."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)


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
    match = generation_pattern(name).fullmatch(current)
    generation = int(match.group(1)) + 1 if match else 1
    path = data_dir / f"{name}.{generation}.db"
    remove_store(path, data_dir, name)
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


def remove_store(path: Path, data_dir: Path, name: str) -> None:
    """Delete a store file and its WAL companions, unless it is the store in use."""
    if path.resolve() == current_store(data_dir, name).resolve():
        return  # whoever asks, the store the pointer names is never removed
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def lock_projection(data_dir: Path, name: str, *, wait: bool = False) -> IO[bytes]:
    """Hold the projection's lock for this process's lifetime (one writer per data dir)."""
    private_dir(data_dir)
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


def lock_replay(data_dir: Path, name: str, token: str) -> IO[bytes]:
    """Hold the one replay of `name` on this data dir; refuse, naming the holder, if taken."""
    private_dir(data_dir)
    path = data_dir / f"{name}.replay.lock"
    handle = path.open("a+b")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = _fields(handle.read().decode(errors="replace"))
        handle.close()
        raise ReplayBusy(
            f"a replay of {name} is already running on {data_dir} (pid {holder.get('pid', '?')} "
            f"on {holder.get('host', '?')}, since {holder.get('since', '?')}); wait for it to "
            "finish"
        ) from None
    handle.seek(0)
    handle.truncate()
    since = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    handle.write(
        f"pid={os.getpid()} host={socket.gethostname()} since={since} token={token}\n".encode()
    )
    handle.flush()
    return handle


def replay_token(data_dir: Path, name: str) -> str | None:
    """The token of the replay of `name` running now on this data dir (None: no replay runs)."""
    path = data_dir / f"{name}.replay.lock"
    if not path.exists():
        return None
    with path.open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: a replay runs; its token is in the file
            return _fields(handle.read().decode(errors="replace")).get("token")
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _fields(text: str) -> dict[str, str]:
    pairs = (part.partition("=") for part in text.split())
    return {key: value for key, sep, value in pairs if sep}
