"""A short path for the messages of one subscription: (subject, reply, data), no `Msg`.

nats-py turns every message it receives into a `Msg` (parsing its headers first), puts it on
the subscription's queue, and a task of the subscription awaits the callback with it. For a
projector's pull inbox — every stored event goes through it, live and in a rebuild — that is
several microseconds a message for things the projector does not use: it needs the subject,
the reply subject (stream and delivery sequences; the ack) and the bytes, never the headers
of a stored event.

`tap` takes the messages of one subscription straight from the client's parser and hands them
to plain functions, in the order they arrive: a data message to `take`, a status (an idle
heartbeat, an ended or expired pull request: headers with an inline status) to `status` with
its code. Every other subscription's messages go the usual way. The hook is nats-py's
`Client._process_msg(sid, subject, reply, payload, headers)`, called by its protocol parser
for each MSG/HMSG; when a client does not have it, `tap` says so and nothing changes (the
subscription's callback gets everything). A tapped message is not counted in the client's
`stats`.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from nats.aio.client import Client as NATS

log = logging.getLogger("rapport.nats")

HOOK = "_process_msg"
TAPS = "_rapport_taps"  # on the client: sid -> the functions taking that subscription's messages
STATUS_AT = len(b"NATS/1.0")  # `NATS/1.0 100 Idle Heartbeat`: a space here is a status line
EXPECTED = ["sid", "subject", "reply", "data", "headers"]


class Delivered(Protocol):
    """What a projector reads of a delivered message: a `Delivery`, or nats-py's `Msg`."""

    @property
    def subject(self) -> str: ...
    @property
    def reply(self) -> str: ...
    @property
    def data(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """A data message as a projector reads it."""

    subject: str
    reply: str
    data: bytes


Take = tuple["Callable[[Delivery], None]", "Callable[[str], None]"]


def status_of(headers: bytes | None) -> str | None:
    """The inline status of a message (`100`, `404`, `408`, `409`...), None for a data message."""
    if not headers or headers[STATUS_AT : STATUS_AT + 1] != b" ":
        return None
    return headers[STATUS_AT + 1 : STATUS_AT + 4].decode("ascii", "replace")


def tap(
    nc: NATS, sid: int, take: Callable[[Delivery], None], status: Callable[[str], None]
) -> bool:
    """Hand subscription `sid`'s data messages to `take` and statuses to `status`, in order.

    False when this client has no hook to tap: its messages then reach the callback.
    """
    taps: dict[int, Take] | None = nc.__dict__.get(TAPS)
    if taps is None:
        original = getattr(nc, HOOK, None)
        if original is None or list(inspect.signature(original).parameters) != EXPECTED:
            log.warning("this nats-py has no %s(%s): messages take the usual path", HOOK, EXPECTED)
            return False
        taps = {}
        nc.__dict__[TAPS] = taps
        setattr(nc, HOOK, _hook(taps, original))
    taps[sid] = (take, status)
    return True


def untap(nc: NATS, sid: int) -> None:
    """Stop handing subscription `sid`'s messages to its function (they take the usual path)."""
    taps: dict[int, Any] | None = nc.__dict__.get(TAPS)
    if taps is not None:
        taps.pop(sid, None)


def _hook(
    taps: dict[int, Take],
    original: Callable[[int, bytes, bytes, bytes, bytes | None], Awaitable[None]],
) -> Callable[[int, bytes, bytes, bytes, bytes | None], Awaitable[None]]:
    async def process_msg(
        sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        handlers = taps.get(sid)
        if handlers is None:
            await original(sid, subject, reply, data, headers)
            return
        status = status_of(headers)
        if status is None:
            handlers[0](Delivery(subject.decode(), reply.decode(), data))
        else:
            handlers[1](status)

    return process_msg
