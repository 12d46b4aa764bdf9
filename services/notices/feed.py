"""Follow the notices: from a stream sequence on, in stream order, then as they are published.

No consumer is made: notices are read with direct gets (`RAPPORT_NOTICES` allows them), a page
at a time, and a plain subscription to the notices' subjects wakes the reader when a new one is
published. A reader that stops and starts again at the sequence after the last one it took
misses nothing and sees nothing twice (`GET /v1/notices` with `Last-Event-ID`, `rapport
notices --from-seq`). What the stream no longer keeps (older than `RAPPORT_NOTICE_DAYS`) is
gone: reading resumes at the oldest notice kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from events.notices import owner_matches, read_notice
from events.subjects import NOTICES_STREAM, notice_filter
from services.nats.log_reader import DirectReader

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from nats.aio.client import Client as NATS
    from nats.aio.msg import Msg

    from events.notices import NoticeEnvelope

PAGE = 256
RECHECK = 5.0  # seconds between looks even when no wake-up came (one lost on a reconnect)


@dataclass(frozen=True, slots=True)
class NoticeFilter:
    """Which notices a reader wants: kinds (none: all), one owner, one relationship."""

    kinds: frozenset[str] = field(default_factory=frozenset)
    owner: str | None = None
    relationship_id: str | None = None

    @property
    def subject(self) -> str:
        """The narrowest subject filter that holds every wanted notice."""
        kind = next(iter(self.kinds)) if len(self.kinds) == 1 else None
        return notice_filter(self.relationship_id, kind)

    def admits(self, notice: NoticeEnvelope) -> bool:
        """True when the notice is one the reader wants."""
        if self.kinds and notice.kind not in self.kinds:
            return False
        if self.relationship_id is not None and notice.subject != self.relationship_id:
            return False
        return self.owner is None or owner_matches(self.owner, notice.owner)


@dataclass(frozen=True, slots=True)
class FedNotice:
    """A notice as read: its stream sequence (the resume point), the envelope, its bytes."""

    seq: int
    notice: NoticeEnvelope
    body: bytes


async def next_seq(nc: NATS, within: float) -> int:
    """The sequence the next notice published will have (to follow from now on)."""
    info = await nc.jetstream(timeout=within).stream_info(NOTICES_STREAM)
    return info.state.last_seq + 1


async def follow(
    nc: NATS, wanted: NoticeFilter, start_seq: int, *, within: float = 5.0
) -> AsyncIterator[FedNotice]:
    """Every wanted notice from `start_seq` on, in order, waiting for new ones for ever."""
    reader = DirectReader(nc, stream=NOTICES_STREAM, timeout=within)
    news = asyncio.Event()

    async def published(_: Msg) -> None:
        news.set()

    # subscribed before the first read: a notice published in between still wakes us
    subscription = await nc.subscribe(wanted.subject, cb=published)
    cursor = max(1, start_seq)
    try:
        while True:
            news.clear()
            page, _ = await reader.read_page(wanted.subject, cursor, PAGE)
            for message in page:
                cursor = message.seq + 1
                notice = read_notice(message.data)
                if notice is not None and wanted.admits(notice):
                    yield FedNotice(message.seq, notice, message.data)
            if not page:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(news.wait(), RECHECK)
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
        await reader.close()
