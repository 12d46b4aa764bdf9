"""Read stored events of chosen subjects straight from the stream with batched direct gets.

No consumer is created: one request returns up to `batch` messages of a subject filter,
which is what the ingest stage check, the audit and time travel need for one relationship.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import TYPE_CHECKING

import orjson

from events.reading import StoredMessage
from events.subjects import EVENTS_STREAM

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription


class LogReadError(RuntimeError):
    """The stream did not answer a read."""


class DirectReader:
    """Batched `$JS.API.DIRECT.GET` reads over one shared reply subscription."""

    def __init__(self, nc: NATS, stream: str = EVENTS_STREAM, timeout: float = 5.0) -> None:
        self._nc = nc
        self._stream = stream
        self._timeout = timeout
        self._prefix = ""
        self._sub: Subscription | None = None
        self._queues: dict[str, asyncio.Queue[Msg]] = {}
        self._tokens = itertools.count()

    async def _ensure_subscription(self) -> None:
        if self._sub is None:
            self._prefix = self._nc.new_inbox()
            self._sub = await self._nc.subscribe(self._prefix + ".*", cb=self._route)

    async def _route(self, msg: Msg) -> None:
        queue = self._queues.get(msg.subject.rsplit(".", 1)[-1])
        if queue is not None:
            queue.put_nowait(msg)

    async def close(self) -> None:
        """Drop the reply subscription."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def read(
        self, subject_filter: str, start_seq: int = 1, batch: int = 1000
    ) -> list[StoredMessage]:
        """Every stored message matching `subject_filter` from `start_seq` on, oldest first."""
        found: list[StoredMessage] = []
        seq = max(1, start_seq)
        while True:
            page, more = await self.read_page(subject_filter, seq, batch)
            found.extend(page)
            if not more or not page:
                return found
            seq = page[-1].seq + 1

    async def read_page(
        self, subject_filter: str, start_seq: int, batch: int
    ) -> tuple[list[StoredMessage], bool]:
        """Up to `batch` messages from `start_seq` on, and whether more follow."""
        await self._ensure_subscription()
        token = str(next(self._tokens))
        queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._queues[token] = queue
        request = {"seq": start_seq, "next_by_subj": subject_filter, "batch": batch}
        page: list[StoredMessage] = []
        try:
            await self._nc.publish(
                f"$JS.API.DIRECT.GET.{self._stream}",
                orjson.dumps(request),
                reply=f"{self._prefix}.{token}",
            )
            while True:
                try:
                    msg = await asyncio.wait_for(queue.get(), self._timeout)
                except TimeoutError:
                    raise LogReadError(
                        f"stream {self._stream} did not answer a read of {subject_filter} "
                        f"within {self._timeout:.0f}s"
                    ) from None
                headers = msg.headers or {}
                status = headers.get("Status")
                if status == "404":
                    return page, False
                if status == "204":  # end of batch: more may follow if it was full
                    pending = int(headers.get("Nats-Num-Pending", "0") or 0)
                    return page, pending > 0
                if status:
                    raise LogReadError(
                        f"stream {self._stream} refused a read of {subject_filter}: "
                        f"{status} {headers.get('Description', '')}"
                    )
                page.append(
                    StoredMessage(
                        seq=int(headers["Nats-Sequence"]),
                        subject=headers["Nats-Subject"],
                        data=msg.data,
                        headers=dict(headers),
                    )
                )
        finally:
            self._queues.pop(token, None)
