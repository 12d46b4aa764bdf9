"""The limit: how fast nats-py can take RAPPORT_EVENTS off the server when nothing else is done.

`raw_fetch_ack` is the consumer shape Rapport's projector uses (durable pull, callback on an
inbox fed by `$JS.API.CONSUMER.MSG.NEXT` requests) but acknowledges every message explicitly
and does nothing else: no parsing, no folding, no SQLite. `raw_ordered` reads through an
ordered push consumer (no acks, flow control), the fastest way nats-py replays a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING

import nats
import orjson
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from benchmarks.result import BaselineResult, DropCounter, require_loopback
from events.subjects import EVENTS_FILTER, EVENTS_STREAM

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS
    from nats.aio.msg import Msg

REQUEST_EXPIRES = 5.0  # seconds a pull request waits on the server before it ends with a 408


class _RawPuller:
    """Keeps two pull requests open and acknowledges each delivery; counts to `count`."""

    def __init__(self, nc: NATS, stream: str, durable: str, count: int, batch: int) -> None:
        self.nc = nc
        self.subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self.count = count
        self.batch = batch
        self.inbox = nc.new_inbox()
        self.received = 0
        self.last_stream_seq = 0
        self.requests: deque[int] = deque()  # undelivered messages of each open request
        self.done = asyncio.Event()
        self.last_heard = time.monotonic()

    async def request(self) -> None:
        """Ask for the next batch unless enough is already asked for."""
        wanted = min(self.batch, self.count - self.received - sum(self.requests))
        if wanted <= 0 or len(self.requests) >= 2:
            return
        self.requests.append(wanted)
        body = {"batch": wanted, "expires": int(REQUEST_EXPIRES * 1e9)}
        await self.nc.publish(self.subject, orjson.dumps(body), reply=self.inbox)

    async def on_message(self, msg: Msg) -> None:
        self.last_heard = time.monotonic()
        if msg.headers and msg.headers.get("Status"):  # 404/408/409: the oldest request ended
            if self.requests:
                self.requests.popleft()
            await self.request()
            return
        await msg.ack()
        self.received += 1
        if self.received == self.count:
            self.last_stream_seq = msg.metadata.sequence.stream
        if self.requests:
            self.requests[0] -= 1
            if self.requests[0] <= 0:
                self.requests.popleft()
        if self.received >= self.count:
            self.done.set()
        elif len(self.requests) < 2:
            await self.request()

    async def run(self, deadline: float) -> None:
        """Pull until `count` messages are acknowledged, or fail at `deadline`."""
        await self.request()
        await self.request()
        while not self.done.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"raw pull: {self.received} of {self.count} before the deadline")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), 1.0)
            if time.monotonic() - self.last_heard > REQUEST_EXPIRES + 1:
                self.requests.clear()  # requests lost (e.g. a reconnect): ask again
                self.last_heard = time.monotonic()
                await self.request()


async def raw_fetch_ack(
    nats_url: str,
    count: int,
    *,
    batch: int = 1000,
    stream: str = EVENTS_STREAM,
    within: float = 300.0,
) -> BaselineResult:
    """Fetch and acknowledge `count` messages through a hand-rolled durable pull consumer.

    Timed: from the first pull request until the last acknowledgement is flushed to the server.
    Not timed: connecting, creating and deleting the durable consumer.
    """
    require_loopback(nats_url)
    drops = DropCounter()
    nc = await nats.connect(nats_url, allow_reconnect=False, error_cb=drops.note)
    js = nc.jetstream()
    durable = f"bench-raw-{uuid.uuid4().hex[:8]}"
    try:
        await js.add_consumer(
            stream,
            ConsumerConfig(
                durable_name=durable,
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=60,
                max_ack_pending=4 * batch,  # the server's default (1000) would stall prefetching
                max_waiting=16,
                filter_subject=EVENTS_FILTER,
            ),
        )
        puller = _RawPuller(nc, stream, durable, count, batch)
        sub = await nc.subscribe(
            puller.inbox,
            cb=puller.on_message,
            pending_msgs_limit=8 * batch,
            pending_bytes_limit=512 * 1024 * 1024,
        )
        started = time.perf_counter()
        await puller.run(time.monotonic() + within)
        await nc.flush()
        seconds = time.perf_counter() - started
        await sub.unsubscribe()
        info = await js.consumer_info(stream, durable)
    finally:
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream, durable)
        await nc.close()
    return BaselineResult.measured(
        "raw-fetch-ack",
        puller.received,
        seconds,
        f"nats-py durable pull (AckPolicy.EXPLICIT), callback on an inbox, MSG.NEXT batches "
        f"of {batch}, two requests in flight, +ACK for every message; no parsing, no storage. "
        "Timed from the first request to the flush after the last ack.",
        batch=batch,
        ack_floor_stream_seq=info.ack_floor.stream_seq if info.ack_floor else None,
        num_ack_pending=info.num_ack_pending,
        last_stream_seq=puller.last_stream_seq,
    )


async def raw_ordered(
    nats_url: str,
    count: int,
    *,
    stream: str = EVENTS_STREAM,
    within: float = 300.0,
) -> BaselineResult:
    """Read `count` messages through an ordered consumer with a callback (no acks).

    Timed: from subscribing (which creates the ephemeral consumer) to the `count`-th message.
    """
    require_loopback(nats_url)
    drops = DropCounter()
    nc = await nats.connect(nats_url, allow_reconnect=False, error_cb=drops.note)
    received = 0
    last_seq = 0
    done = asyncio.Event()

    async def on_message(msg: Msg) -> None:
        nonlocal received, last_seq
        received += 1
        if received == count:
            last_seq = msg.metadata.sequence.stream
            done.set()

    try:
        js = nc.jetstream()
        started = time.perf_counter()
        sub = await js.subscribe(
            EVENTS_FILTER,
            stream=stream,
            cb=on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
            # room for the whole read: a slow-consumer drop would reset the ordered consumer
            # and the figure would measure the resets
            pending_msgs_limit=max(256 * 1024, count + 1024),
            pending_bytes_limit=2 * 1024 * 1024 * 1024,
        )
        try:
            await asyncio.wait_for(done.wait(), within)
        except TimeoutError:
            raise TimeoutError(f"ordered: {received} of {count} before the deadline") from None
        seconds = time.perf_counter() - started
        with contextlib.suppress(NotFoundError):
            await sub.unsubscribe()
    finally:
        await nc.close()
    return BaselineResult.measured(
        "raw-ordered",
        received,
        seconds,
        "nats-py ordered push consumer (ephemeral, AckPolicy.NONE, flow control) with a "
        "callback that only counts. Timed from subscribe (consumer creation included) to the "
        "last message.",
        last_stream_seq=last_seq,
        slow_consumer_drops=drops.slow_consumer,
    )
