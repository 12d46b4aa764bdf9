"""The projector's short path for its pull inbox (services.nats.deliveries), on a real server."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from services.nats.deliveries import Delivery, status_of, tap, untap
from tests.conftest import wait_for

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS
    from nats.aio.msg import Msg

STREAM, CONSUMER = "TAPPED", "puller"


def test_a_status_is_told_from_data_by_its_header_line() -> None:
    assert status_of(None) is None
    assert status_of(b"") is None
    assert status_of(b"NATS/1.0\r\nNats-Msg-Id: e-1\r\n\r\n") is None
    assert status_of(b"NATS/1.0 404 No Messages\r\n\r\n") == "404"
    assert status_of(b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Stream: 9\r\n\r\n") == "100"


async def pull(nc: NATS, inbox: str, batch: int) -> None:
    """Ask the consumer for up to `batch` messages now (a 404 ends the request when fewer)."""
    body = json.dumps({"batch": batch, "no_wait": True}).encode()
    await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{CONSUMER}", body, reply=inbox)


async def test_tapped_messages_arrive_in_order_and_others_go_the_usual_way(nc: NATS) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=STREAM, subjects=["tapped.>"]))
    await js.add_consumer(STREAM, ConsumerConfig(durable_name=CONSUMER, ack_policy=AckPolicy.NONE))
    for n in range(3):
        await js.publish(f"tapped.{n}", f"event {n}".encode(), headers={"Nats-Msg-Id": f"e-{n}"})

    seen: list[Delivery | str] = []
    called_back: list[Msg] = []
    elsewhere: list[Msg] = []

    async def callback(msg: Msg) -> None:
        called_back.append(msg)

    async def other(msg: Msg) -> None:
        elsewhere.append(msg)

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=callback)
    await nc.subscribe("not.tapped", cb=other)
    assert tap(nc, sub._id, seen.append, seen.append)

    await pull(nc, inbox, 10)
    await nc.publish("not.tapped", b"hello", headers={"X-Note": "kept"})
    await wait_for(lambda: len(seen) == 4 and len(elsewhere) == 1, what="the pull answered")

    data = [item for item in seen if isinstance(item, Delivery)]
    assert [d.data for d in data] == [b"event 0", b"event 1", b"event 2"]
    assert [d.subject for d in data] == ["tapped.0", "tapped.1", "tapped.2"]
    assert all(d.reply.startswith(f"$JS.ACK.{STREAM}.{CONSUMER}.") for d in data)
    assert seen[3] == "404"  # the request's end comes after its messages, as sent
    assert called_back == []
    assert elsewhere[0].data == b"hello"
    assert elsewhere[0].headers == {"X-Note": "kept"}

    untap(nc, sub._id)
    await js.publish("tapped.3", b"event 3")
    await pull(nc, inbox, 10)
    await wait_for(lambda: len(called_back) == 2, what="the usual path again")
    assert called_back[0].data == b"event 3"
    assert called_back[1].headers is not None
    assert called_back[1].headers.get("Status") == "404"
    assert len(seen) == 4
