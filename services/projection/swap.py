"""A running service adopts a store that `rapport replay` rebuilt, without a pause in answers.

It catches the rebuilt store up to its own position, switches queries and the projector to it,
rewrites the pointer file atomically, and closes the old store once the queries reading it
have finished. Only a store generation file (`<name>.<n>.db`) in its data dir, not the store
in use, and carrying the token of the replay that holds the replay lock now, is adopted.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from services.nats.wire import error_reply, reply
from services.projection.store_files import (
    generation_pattern,
    publish_store,
    remove_store,
    replay_token,
)

if TYPE_CHECKING:
    from services.projection.service import ProjectionService

log = logging.getLogger("rapport.queries")

CATCH_UP_SECONDS = 300


async def adopt(service: ProjectionService[Any], body: bytes) -> bytes:
    """Answer a swap request: adopt the rebuilt store it names, or say why not."""
    checked = await rebuilt_store(service, body)
    if isinstance(checked, str):
        return error_reply("invalid", checked)
    path = checked
    fresh = service.spec.store(path)
    await fresh.open()
    durable = service.durable
    catch_up = service.projector_for(fresh, f"{durable}-swap", live=False)
    old_projector, old_store = service.projector, service.store
    try:
        await catch_up.start()
        if not await catch_up.wait_applied(old_projector.applied_seq, CATCH_UP_SECONDS):
            raise TimeoutError(f"the rebuilt store did not catch up within {CATCH_UP_SECONDS} s")
        await old_projector.stop()
        if not await catch_up.wait_applied(old_projector.applied_seq, CATCH_UP_SECONDS):
            await old_projector.start()
            raise TimeoutError(f"the rebuilt store did not catch up within {CATCH_UP_SECONDS} s")
    except Exception as exc:
        await catch_up.stop()
        await fresh.close()
        return error_reply("unavailable", f"swap abandoned: {exc}")
    await catch_up.stop()
    live = service.projector_for(fresh, durable, live=True)
    await live.start()
    service.switch_to(fresh, live)
    await service.carry_notices(old_store, fresh)  # what the old store has not published yet
    publish_store(service.settings.data_dir, service.name, path)
    await service.answers.retire_generation()  # queries reading the old store finish first
    await old_store.close()
    remove_store(old_store.path, service.settings.data_dir, service.name)
    log.info("%s: now answering from %s (seq %d)", service.name, path, live.applied_seq)
    return reply({"swapped": True, "store": str(path), "applied_seq": live.applied_seq})


async def rebuilt_store(service: ProjectionService[Any], body: bytes) -> Path | str:
    """The store a swap request names, or why it is refused."""
    try:
        request = orjson.loads(body)
        path, token = Path(request["path"]), str(request["token"])
    except (ValueError, KeyError, TypeError):
        return 'path: send {"path": "<rebuilt store>", "token": "<the replay\'s token>"}'
    name, data_dir = service.name, service.settings.data_dir
    problem = not_a_generation(path, data_dir, name, service.store.path)
    if problem:
        return problem
    running = replay_token(data_dir, name)
    if running is None or not secrets.compare_digest(running, token):
        return f"token: no replay of {name} holding this token runs on this data dir"
    candidate = service.spec.store(path)
    try:
        await candidate.open()
        built_for = await candidate.meta("rebuild_token", "", reader=False)
    except Exception as exc:  # not a SQLite store at all
        return f"path: {path} is not a {name} store ({exc})"
    finally:
        await candidate.close()
    if not secrets.compare_digest(built_for, token):
        return f"path: {path} was not built by that replay"
    return path


def not_a_generation(path: Path, data_dir: Path, name: str, in_use: Path) -> str | None:
    """Why `path` is not a store generation of `name` that a swap may adopt (None: it is)."""
    data_dir = data_dir.resolve()
    if path.resolve().parent != data_dir or not generation_pattern(name).fullmatch(path.name):
        return f"path: {path} is not a {name} store generation (<name>.<n>.db) in {data_dir}"
    if not path.is_file():
        return f"path: {path} does not exist"
    if path.resolve() == in_use.resolve():
        return f"path: {path} is the store in use"
    return None
