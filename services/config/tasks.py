"""Stopping a background task for sure, in bounded time.

`task.cancel()` then `await task` can wait forever on Python 3.11: `asyncio.wait_for` (used by
nats-py's requests and publishes) may swallow a cancellation that races with the result it
waits for, and a loop then goes on. So a loop checks a stop flag as well, and the stopper
cancels again each second until the task has ended, giving up (loudly) after `within`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger("rapport")


async def stop_task(task: asyncio.Task[None] | None, *, within: float = 10.0) -> bool:
    """Cancel `task` until it has ended (True), or say it would not stop (False)."""
    if task is None:
        return True
    for _ in range(max(1, round(within))):
        if task.done():
            break
        task.cancel()
        await asyncio.wait({task}, timeout=1)
    if not task.done():
        log.error("task %s did not stop within %g s; left behind", task.get_name(), within)
        return False
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
    return True
