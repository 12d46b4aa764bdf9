"""Read stored events of chosen subjects straight from the stream with batched direct gets.

No consumer is created: one request returns up to `batch` messages of a subject filter,
which is what the ingest stage check, the audit and time travel need for one relationship.

A wildcard filter is read by walking the stream's blocks from `start_seq` on, loading each
block between two matches: at a million events a relationship's few messages cost a walk of
the whole stream (0.1-1.4 s). One relationship's filter matches a few subjects, which the
stream indexes: `per_subject=True` asks the stream which subjects match (stream info with a
subject filter), reads each by its literal subject, and merges them by sequence (about 1 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from typing import TYPE_CHECKING

import orjson
from nats.errors import Error as NatsError

from events.reading import StoredMessage
from events.subjects import EVENTS_STREAM

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription


# A filter read per subject matches at most this many subjects; past it (a log written
# around the ingest's checks, under made-up types), the stream's blocks are walked instead.
PER_SUBJECT_LIMIT = 64


class LogReadError(RuntimeError):
    """The stream did not answer a read."""


def is_wildcard(subject_filter: str) -> bool:
    """True for a filter with `*` or `>` tokens (a literal subject is indexed by the stream)."""
    return any(token in {"*", ">"} for token in subject_filter.split("."))


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

    async def subjects(self, subject_filter: str) -> tuple[list[str], int] | None:
        """The stored subjects matching a filter, and the stream's last sequence as it said
        so; None when more than `PER_SUBJECT_LIMIT` match."""
        request = {"subjects_filter": subject_filter}
        try:
            reply = await self._nc.request(
                f"$JS.API.STREAM.INFO.{self._stream}", orjson.dumps(request), self._timeout
            )
        except NatsError as exc:
            raise LogReadError(
                f"stream {self._stream} did not say which subjects match {subject_filter}: "
                f"{exc.__class__.__name__} {exc}"
            ) from None
        info = orjson.loads(reply.data)
        if "error" in info:
            raise LogReadError(
                f"stream {self._stream} refused to list {subject_filter}: "
                f"{info['error'].get('description', info['error'])}"
            )
        state = info.get("state", {})
        matched: dict[str, int] = state.get("subjects") or {}
        if len(matched) > PER_SUBJECT_LIMIT or info.get("total", 0) > len(matched):
            return None
        return sorted(matched), int(state.get("last_seq", 0))

    async def read(
        self,
        subject_filter: str,
        start_seq: int = 1,
        batch: int = 1000,
        *,
        per_subject: bool = False,
    ) -> list[StoredMessage]:
        """Every stored message matching `subject_filter` from `start_seq` on, oldest first.

        `per_subject`: the filter matches few subjects (one relationship's): read each by its
        literal subject, up to the stream's last sequence when they were listed.
        """
        listed = await self._listed(subject_filter, per_subject)
        if listed is not None:
            subjects, last_seq = listed
            parts = await asyncio.gather(*(self.read(s, start_seq, batch) for s in subjects))
            return _merged(parts, last_seq)
        found: list[StoredMessage] = []
        seq = max(1, start_seq)
        while True:
            page, more = await self._read_page(subject_filter, seq, batch)
            found.extend(page)
            if not more or not page:
                return found
            seq = page[-1].seq + 1

    async def read_page(
        self, subject_filter: str, start_seq: int, batch: int, *, per_subject: bool = False
    ) -> tuple[list[StoredMessage], bool]:
        """Up to `batch` messages from `start_seq` on, and whether more follow (`per_subject`:
        as for `read`)."""
        listed = await self._listed(subject_filter, per_subject)
        if listed is not None:
            subjects, last_seq = listed
            pages = await asyncio.gather(*(self.read_page(s, start_seq, batch) for s in subjects))
            merged = _merged([page for page, _ in pages], last_seq)
            more = len(merged) > batch or any(more for _, more in pages)
            return merged[:batch], more
        return await self._read_page(subject_filter, start_seq, batch)

    async def _listed(self, subject_filter: str, per_subject: bool) -> tuple[list[str], int] | None:
        if not per_subject or not is_wildcard(subject_filter):
            return None
        return await self.subjects(subject_filter)

    async def _read_page(
        self, subject_filter: str, start_seq: int, batch: int
    ) -> tuple[list[StoredMessage], bool]:
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


def _merged(parts: list[list[StoredMessage]], last_seq: int) -> list[StoredMessage]:
    """Messages read per subject, in stream order, up to `last_seq` (one moment of the log)."""
    merged = heapq.merge(*parts, key=lambda message: message.seq)
    return [message for message in merged if message.seq <= last_seq]
