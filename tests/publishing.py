"""Publish events as other systems would, and ask the projections, from any test."""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from events.subjects import INGEST_SUBJECT, event_subject
from tests.factories import event

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS


async def publish(nc: NATS, envelope: dict[str, Any], *, msg_id: str | None = None) -> int:
    """Publish as another system would: plain JetStream, Nats-Msg-Id = event id."""
    ack = await nc.jetstream().publish(
        event_subject(envelope["subject"], envelope["type"]),
        orjson.dumps(envelope),
        headers={"Nats-Msg-Id": msg_id or envelope["id"]},
    )
    return int(ack.seq)


async def publish_all(nc: NATS, envelopes: list[dict[str, Any]]) -> None:
    """Publish many with async JetStream publishes, Nats-Msg-Id = event id."""
    js = nc.jetstream(publish_async_max_pending=2000)
    for envelope in envelopes:
        await js.publish_async(
            event_subject(envelope["subject"], envelope["type"]),
            orjson.dumps(envelope),
            headers={"Nats-Msg-Id": envelope["id"]},
        )
    await js.publish_async_completed()


async def ask(nc: NATS, subject: str, **request: Any) -> dict[str, Any]:
    """A query over NATS, `subject` after `rapport.q.`."""
    reply = await nc.request(f"rapport.q.{subject}", orjson.dumps(request), timeout=5)
    decoded: dict[str, Any] = orjson.loads(reply.data)
    return decoded


def workload(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """A mix of every kind of event over a few hundred relationships, some rule-breaking."""
    rnd = random.Random(seed)
    envelopes = []
    for n in range(count):
        rel = f"r{rnd.randrange(300)}"
        roll = rnd.random()
        day = rnd.uniform(0, 200)
        if roll < 0.6:
            direction = rnd.choice(["inbound", "outbound", "mutual"])
            data: dict[str, Any] = {
                "kind": rnd.choice(["call", "meeting", "email"]),
                "direction": direction,
            }
            envelopes.append(event("interaction.recorded", rel, data, days=day, event_id=f"k{n}"))
        elif roll < 0.8:
            to = rnd.choice(["awareness", "engagement", "conversion", "closed"])
            data = {"to": to, "reason": "moved" if rnd.random() < 0.5 else None}
            envelopes.append(event("stage.changed", rel, data, days=day, event_id=f"k{n}"))
        elif roll < 0.9:
            envelopes.append(event("connection.made", rel, days=day, event_id=f"k{n}"))
        else:
            data = {"proposal_id": f"p{rnd.randrange(3)}", "title": "T"}
            envelopes.append(event("proposal.drafted", rel, data, days=day, event_id=f"k{n}"))
    return envelopes


async def ingest_retrying(
    nc: NATS,
    envelopes: list[dict[str, Any]],
    deadline: float,
    batch: int = 50,
    refused: dict[str, str] | None = None,
) -> dict[str, int]:
    """Send batches to `rapport.ingest`, resending a batch (same ids) until all are accepted.

    With `refused`, an event the rules refuse (`rejected`) is noted there, not resent;
    without it, any refusal but `unavailable` fails the test.
    """
    acked: dict[str, int] = {}
    for start in range(0, len(envelopes), batch):
        pending = envelopes[start : start + batch]
        while pending:
            try:
                message = await nc.request(INGEST_SUBJECT, orjson.dumps(pending), timeout=5)
                reply = orjson.loads(message.data)
            except Exception:
                reply = {"accepted": [], "rejected": []}
            for entry in reply.get("accepted", []):
                acked[entry["id"]] = entry["seq"]
            final = [r for r in reply.get("rejected", []) if r["code"] != "unavailable"]
            if refused is not None:
                refused.update((r["id"], r["error"]) for r in final if r["code"] == "rejected")
                final = [r for r in final if r["code"] != "rejected"]
            assert not final, final
            done = acked.keys() | (refused or {}).keys()
            pending = [e for e in pending if e["id"] not in done]
            if pending:
                if time.monotonic() > deadline:
                    pytest.fail(f"{len(pending)} events never accepted")
                await asyncio.sleep(0.2)
    return acked
