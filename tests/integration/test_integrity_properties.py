"""Property tests of the core promise, against a real nats-server and real SQLite stores.

Whatever mix of raw publishes (valid, malformed, old shapes with wrong data, misfiled, ids
reused) and validated ingests another system sends: no projector ever stops, every valid
event takes effect once, and each bad message is dead-lettered exactly once per projection.
Through the validated ingest alone, nothing is ever dead-lettered and every stored id is
distinct. The oracle is this file's own bookkeeping of what it sent, not Rapport's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nats
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.subjects import DLQ_STREAM, EVENTS_FILTER, INGEST_SUBJECT, event_subject
from services.config.settings import Settings
from services.ingest.service import IngestService
from services.nats.embedded import EmbeddedNats, free_port
from services.nats.log_reader import DirectReader
from services.nats.streams import ensure_streams
from services.projection.registry import SPECS
from services.projection.service import ProjectionService
from tests.factories import event
from tests.publishing import ask

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from nats.aio.client import Client as NATS

    from services.nats.process import Service

RELATIONSHIPS = ("a", "b", "c")
EXAMPLES = 8  # each example runs its own server and services: `-m slow` runs many more

# -- valid events of every type -------------------------------------------------------------

_rel = st.sampled_from(RELATIONSHIPS)
_day = st.floats(0, 60)
_pid = st.sampled_from(["p1", "p2"])
_valid = st.one_of(
    st.builds(lambda r, d: event("connection.made", r, days=d), _rel, _day),
    st.builds(
        lambda r, d, kind, direction: event(
            "interaction.recorded", r, {"kind": kind, "direction": direction}, days=d
        ),
        _rel,
        _day,
        st.sampled_from(["meeting", "call", "email"]),
        st.sampled_from(["inbound", "outbound", "mutual"]),
    ),
    st.builds(
        lambda r, d, to, why: event(
            "stage.changed", r, {"to": to, "reason": "why" if why else None}, days=d
        ),
        _rel,
        _day,
        st.sampled_from(["awareness", "engagement", "conversion", "partnership", "closed"]),
        st.booleans(),
    ),
    st.builds(lambda r, d: event("purpose.set", r, days=d), _rel, _day),
    st.builds(lambda r, d: event("capacity.noted", r, days=d), _rel, _day),
    st.builds(
        lambda r, d, p: event("proposal.drafted", r, {"proposal_id": p, "title": "T"}, days=d),
        _rel,
        _day,
        _pid,
    ),
    st.builds(
        lambda r, d, p, titled: event(
            "proposal.submitted",
            r,
            {"proposal_id": p, **({"title": "T"} if titled else {})},
            days=d,
        ),
        _rel,
        _day,
        _pid,
        st.booleans(),
    ),
    st.builds(
        lambda r, d, p, kind: event(f"proposal.{kind}", r, {"proposal_id": p}, days=d),
        _rel,
        _day,
        _pid,
        st.sampled_from(["accepted", "declined", "withdrawn"]),
    ),
)


def _bad_bytes(junk: bytes) -> bytes:
    return b"\xff" + junk  # never UTF-8, never JSON


def _bad_data(envelope: dict[str, Any], data: Any) -> bytes:
    return orjson.dumps({**envelope, "data": data})


def _old_shape(envelope: dict[str, Any], data: Any) -> bytes:
    return orjson.dumps({**envelope, "dataschema": "urn:x:v0", "data": data})


def _unknown_type(envelope: dict[str, Any]) -> bytes:
    return orjson.dumps({**envelope, "type": "rapport.mood.noted"})


_small = st.integers(-(2**63), 2**63 - 1)
_not_an_object = st.one_of(st.text(max_size=5), _small, st.lists(_small, max_size=3))


@dataclass(frozen=True)
class Op:
    """One thing another system does."""

    door: str  # "ingest", "raw" (valid bytes), "bad" (malformed bytes), "misfiled", "reuse"
    envelope: dict[str, Any]
    data: bytes = b""
    subject: str = ""
    same: bool = True  # for "reuse": the same event again, or another under the id


_ops = st.one_of(
    st.builds(Op, st.just("ingest"), _valid),
    st.builds(Op, st.just("raw"), _valid),
    st.builds(
        lambda e, bad: Op("bad", e, bad),
        _valid,
        st.one_of(
            st.binary(max_size=40).map(_bad_bytes),
            st.builds(_bad_data, _valid, _not_an_object),
            st.builds(_old_shape, _valid, _not_an_object),
            st.builds(_unknown_type, _valid),
        ),
    ),
    st.builds(lambda e, other: Op("misfiled", e, subject=other), _valid, _rel),
    st.builds(lambda e, same: Op("reuse", e, same=same), _valid, st.booleans()),
)


# -- the oracle -------------------------------------------------------------------------------


def identity(envelope: dict[str, Any]) -> bytes:
    """What an id names, as this test sends events (it never respells one)."""
    named = [envelope[k] for k in ("id", "type", "subject", "time", "data")]
    return orjson.dumps(named, option=orjson.OPT_SORT_KEYS)


@dataclass
class Ledger:
    """What the test sent and what must therefore hold."""

    first: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # id -> seq, identity
    bad: set[int] = field(default_factory=set)  # seqs every projection must dead-letter
    touches: dict[str, set[str]] = field(default_factory=dict)  # rel -> interaction ids
    sent: list[dict[str, Any]] = field(default_factory=list)  # valid envelopes, for reuse

    def stored_valid(self, seq: int, envelope: dict[str, Any]) -> None:
        known = self.first.get(envelope["id"])
        if known is None:
            self.first[envelope["id"]] = (seq, identity(envelope))
            if envelope["type"] == "rapport.interaction.recorded":
                self.touches.setdefault(envelope["subject"], set()).add(envelope["id"])
        elif known[1] != identity(envelope):
            self.bad.add(seq)  # another event under a used id
        self.sent.append(envelope)


@contextlib.asynccontextmanager
async def rapport(tmp: Path) -> AsyncIterator[tuple[NATS, dict[str, ProjectionService[Any]]]]:
    """A server of its own, the three projections and the ingest service, in this loop."""
    server = EmbeddedNats(tmp / "nats", port=free_port(), name=f"prop-{tmp.name}")
    await server.start()
    nc = await nats.connect(server.url)
    await ensure_streams(nc.jetstream())
    config = Settings(nats_url=server.url, data_dir=tmp / "data", http_port=free_port())
    views = {name: ProjectionService(config, spec) for name, spec in SPECS.items()}
    ingest = IngestService(config)
    started: list[Service] = []
    everything: list[Service] = [*views.values(), ingest]
    try:
        for service in everything:
            await service.start()
            started.append(service)
        yield nc, views
    finally:
        for service in reversed(started):
            await service.stop()
        await nc.close()
        server.stop()


async def send(nc: NATS, op: Op, ledger: Ledger, fresh_id: str) -> None:
    js = nc.jetstream()
    envelope = {**op.envelope, "id": fresh_id}
    if op.door == "reuse" and ledger.sent:
        earlier = ledger.sent[int(fresh_id.removeprefix("id-")) * 7 % len(ledger.sent)]
        envelope = (
            earlier if op.same else {**envelope, "id": earlier["id"], "subject": earlier["subject"]}
        )
        # raw, as if after the duplicate window: a message id JetStream has not seen
        ack = await js.publish(
            event_subject(envelope["subject"], envelope["type"]),
            orjson.dumps(envelope),
            headers={"Nats-Msg-Id": f"late-{fresh_id}"},
        )
        ledger.stored_valid(ack.seq, envelope)
    elif op.door == "ingest":
        reply = orjson.loads(
            (await nc.request(INGEST_SUBJECT, orjson.dumps(envelope), timeout=10)).data
        )
        for accepted in reply["accepted"]:
            assert not accepted.get("duplicate"), reply  # a fresh id is never a duplicate
            ledger.stored_valid(accepted["seq"], envelope)
        for rejected in reply["rejected"]:
            assert rejected["code"] == "rejected", reply  # only the stage or lifecycle rules
    elif op.door == "raw":
        ack = await js.publish(
            event_subject(envelope["subject"], envelope["type"]),
            orjson.dumps(envelope),
            headers={"Nats-Msg-Id": fresh_id},
        )
        ledger.stored_valid(ack.seq, envelope)
    else:
        subject = event_subject(envelope["subject"], envelope["type"])
        data = op.data
        if op.door == "misfiled":
            subject = event_subject(op.subject + "x", envelope["type"])  # never its own
            data = orjson.dumps(envelope)
        ack = await js.publish(subject, data)
        ledger.bad.add(ack.seq)


async def check_everything_took_effect_once(
    nc: NATS, views: dict[str, ProjectionService[Any]], ledger: Ledger
) -> None:
    last = (await nc.jetstream().stream_info("RAPPORT_EVENTS")).state.last_seq
    for service in views.values():
        assert await service.projector.wait_applied(last, 20), service.name
        assert service.projector.failure is None, service.projector.failure
    for name, service in views.items():
        firsts = await service.store.first_copies(set(ledger.first))
        assert {i: seq for i, (seq, _) in firsts.items()} == {
            i: seq for i, (seq, _) in ledger.first.items()
        }, name
    health = views["health"].store
    for relationship, touched in ledger.touches.items():
        state = await health.get(relationship)
        assert state is not None
        assert sorted(t.event_id for t in state.touches) == sorted(touched)
    js = nc.jetstream()
    for name in views:
        info = await js.stream_info(DLQ_STREAM, subjects_filter=f"rapport.dlq.{name}.>")
        kept = {
            int(subject.rsplit(".", 1)[1]): n for subject, n in (info.state.subjects or {}).items()
        }
        assert kept == dict.fromkeys(ledger.bad, 1), name
        assert views[name].status()["dead_lettered"] == len(ledger.bad)


def run(scenario: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="rapport-prop-") as tmp:
        asyncio.run(scenario(Path(tmp)))


QUESTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("proposals.pending", {"limit": 1}),
    ("proposals.pending", {"status": "all", "limit": 50}),
    ("health.summary", {}),
    ("health.list", {"limit": 2}),
    ("stage.list", {"limit": 2}),
    ("stage.get", {"relationship_id": "a"}),
)


async def keep_asking(nc: NATS, sent: asyncio.Event, most: int = 5000) -> int:
    """Ask every projection questions until everything is sent (people read meanwhile: the
    stores' read connections serve them and the projectors at once)."""
    asked = 0
    while not sent.is_set() and asked < most:
        subject, request = QUESTIONS[asked % len(QUESTIONS)]
        with contextlib.suppress(TimeoutError):  # a busy machine: the next one
            answer = await ask(nc, subject, **request)
            problem = answer.get("error", {}).get("code")
            assert problem in (None, "not_found"), (subject, answer)  # "a" may not be yet
        asked += 1
    return asked


def exactly_once(ops: list[Op]) -> None:
    """Send every op while questions are asked, then check the promise."""

    async def scenario(tmp: Path) -> None:
        ledger = Ledger()
        async with rapport(tmp) as (nc, views):
            sent = asyncio.Event()
            asking = asyncio.create_task(keep_asking(nc, sent))
            try:
                for n, op in enumerate(ops):
                    await send(nc, op, ledger, f"id-{n}")
            finally:
                sent.set()
                await asking
            await check_everything_took_effect_once(nc, views, ledger)

    run(scenario)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=st.lists(_ops, min_size=1, max_size=30))
def test_raw_publishes_of_anything_and_ingests_take_effect_exactly_once(ops: list[Op]) -> None:
    exactly_once(ops)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=st.lists(_ops, min_size=1, max_size=80))
def test_many_more_mixes_take_effect_exactly_once(ops: list[Op]) -> None:
    exactly_once(ops)


_ingest_only = st.lists(
    st.tuples(_valid, st.integers(0, 3)),  # an event, and how many times it is retried
    min_size=1,
    max_size=30,
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sent=_ingest_only, batched=st.booleans())
def test_what_the_ingest_accepts_every_projection_applies(
    sent: list[tuple[dict[str, Any], int]], batched: bool
) -> None:
    async def scenario(tmp: Path) -> None:
        async with rapport(tmp) as (nc, views):
            envelopes = [{**e, "id": f"id-{n}"} for n, (e, _) in enumerate(sent)]
            tries = [
                e
                for e, (_, retries) in zip(envelopes, sent, strict=True)
                for _ in range(1 + retries)
            ]
            if batched:
                bodies = [orjson.dumps(tries[i : i + 7]) for i in range(0, len(tries), 7)]
            else:
                bodies = [orjson.dumps(e) for e in tries]
            stored: dict[str, int] = {}
            for body in bodies:
                reply = orjson.loads((await nc.request(INGEST_SUBJECT, body, timeout=10)).data)
                for entry in reply["accepted"]:
                    if entry["id"] in stored:  # a retry: the original's sequence, at any age
                        assert entry == {
                            "id": entry["id"],
                            "seq": stored[entry["id"]],
                            "duplicate": True,
                        }
                    stored.setdefault(entry["id"], entry["seq"])
                assert {r["code"] for r in reply["rejected"]} <= {"rejected"}
            reader = DirectReader(nc)
            try:
                log = await reader.read(EVENTS_FILTER)
            finally:
                await reader.close()
            ids = [orjson.loads(message.data)["id"] for message in log]
            assert len(ids) == len(set(ids))  # the ingest never stores a copy
            assert dict(zip(ids, (m.seq for m in log), strict=True)) == stored
            last = log[-1].seq if log else 0
            for service in views.values():
                assert await service.projector.wait_applied(last, 20)
                assert service.projector.failure is None
                firsts = await service.store.first_copies(set(ids))
                assert {i: seq for i, (seq, _) in firsts.items()} == stored
            assert (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages == 0

    run(scenario)
