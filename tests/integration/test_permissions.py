"""Least privilege on NATS: every role is refused what it has no business doing.

The server here runs the authorization `rapport up` gives the embedded server. The table of
what each role may do is written out by hand below (not read from `services.nats.roles`), and
every other role is tried against it: the server must refuse the publish or the subscription,
and afterwards the administrator finds both streams exactly as they were.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import nats
import orjson
import pytest
from nats.errors import Error as NatsError
from nats.errors import NoServersError
from pydantic import SecretStr

from events.subjects import DLQ_STREAM, EVENTS_STREAM, NOTICES_STREAM
from services.config.settings import Settings
from services.ingest.client import request_ingest
from services.ingest.service import IngestService
from services.nats.embedded import EmbeddedNats, free_port
from services.nats.roles import quote, render
from services.nats.streams import ensure_streams
from services.projection.registry import SPECS
from services.projection.service import ProjectionService
from services.queries.ask import ask
from tests.factories import event, raw

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from nats.aio.client import Client as NATS

ROLES = ("producer", "reader", "stage", "health", "proposals", "ingest", "gateway", "webhooks")
EVERY_SERVICE = frozenset({"stage", "health", "proposals", "ingest", "gateway", "webhooks"})
PROJECTIONS = frozenset({"stage", "health", "proposals"})


@dataclass(frozen=True)
class Attempt:
    """One thing a client may try, and the roles (besides admin) that may do it."""

    what: str
    kind: str  # "publish" or "subscribe"
    subject: str
    allowed: frozenset[str] = frozenset()
    body: bytes = b""


JS = "$JS.API"
ATTEMPTS = (
    # the log itself: nobody but the administrator
    Attempt("cut the log", "publish", f"{JS}.STREAM.UPDATE.{EVENTS_STREAM}",
            body=orjson.dumps({"name": EVENTS_STREAM, "subjects": ["rapport.ev.>"],
                               "max_msgs": 1})),
    Attempt("delete the log", "publish", f"{JS}.STREAM.DELETE.{EVENTS_STREAM}"),
    Attempt("purge the log", "publish", f"{JS}.STREAM.PURGE.{EVENTS_STREAM}"),
    Attempt("delete an event", "publish", f"{JS}.STREAM.MSG.DELETE.{EVENTS_STREAM}",
            body=orjson.dumps({"seq": 1})),
    Attempt("delete the dead letters", "publish", f"{JS}.STREAM.DELETE.{DLQ_STREAM}"),
    Attempt("purge the dead letters", "publish", f"{JS}.STREAM.PURGE.{DLQ_STREAM}"),
    Attempt("create a stream", "publish", f"{JS}.STREAM.CREATE.CAPTURE",
            body=orjson.dumps({"name": "CAPTURE", "subjects": ["rapport.q.>"]})),
    Attempt("take over a source", "publish", f"{JS}.STREAM.CREATE.MIRROR",
            body=orjson.dumps({"name": "MIRROR", "mirror": {"name": EVENTS_STREAM}})),
    # consumers: each projection only its own
    Attempt("a consumer of any name", "publish", f"{JS}.CONSUMER.CREATE.{EVENTS_STREAM}.sneaky"),
    Attempt("delete stage's consumer", "publish",
            f"{JS}.CONSUMER.DELETE.{EVENTS_STREAM}.rapport-stage-1", frozenset({"stage"})),
    Attempt("read with health's consumer", "publish",
            f"{JS}.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.rapport-health-1", frozenset({"health"})),
    # control subjects: services only, each its own
    Attempt("swap stage's store", "publish", "rapport.ctl.stage.1.swap"),
    Attempt("listen to stage's controls", "subscribe", "rapport.ctl.stage.>", frozenset({"stage"})),
    Attempt("answer ingest's pings", "subscribe", "rapport.ctl.ingest.ping", frozenset({"ingest"})),
    # writing: producers and the ingest only; dead letters: each projection its own
    Attempt("publish an event", "publish", "rapport.ev.rel-1.interaction.recorded",
            frozenset({"producer", "ingest"})),
    Attempt("ask the ingest", "publish", "rapport.ingest", frozenset({"producer", "gateway"})),
    Attempt("forge a dead letter", "publish", "rapport.dlq.stage.1", frozenset({"stage"})),
    # reading: readers, and the services that need it
    Attempt("ask a query", "publish", "rapport.q.stage.get",
            frozenset({"reader", "gateway", "stage"})),
    Attempt("read the log directly", "publish", f"{JS}.DIRECT.GET.{EVENTS_STREAM}",
            frozenset({"reader"}) | EVERY_SERVICE),
    Attempt("read the events as they are published", "subscribe", "rapport.ev.>"),
    # impersonating a service, or reading what is sent to others
    Attempt("answer stage's queries", "subscribe", "rapport.q.stage.>", frozenset({"stage"})),
    Attempt("answer the ingest", "subscribe", "rapport.ingest", frozenset({"ingest"})),
    Attempt("read every reply", "subscribe", "_INBOX.>"),
    Attempt("read the reader's replies", "subscribe", "_INBOX.reader.>", frozenset({"reader"})),
    # notices: each projection announces only its own kinds; readers and the gateway follow
    Attempt("forge a stage notice", "publish", "rapport.notice.rel-1.stage.changed",
            frozenset({"stage"})),
    Attempt("forge a band notice", "publish", "rapport.notice.rel-1.health.band.changed",
            frozenset({"health"})),
    Attempt("forge a due touch", "publish", "rapport.notice.rel-1.touch.due", frozenset({"health"})),
    Attempt("forge a decision", "publish", "rapport.notice.rel-1.proposal.decided",
            frozenset({"proposals"})),
    Attempt("announce an unknown kind", "publish", "rapport.notice.rel-1.stage.forged"),
    Attempt("delete the notices", "publish", f"{JS}.STREAM.DELETE.{NOTICES_STREAM}"),
    Attempt("purge the notices", "publish", f"{JS}.STREAM.PURGE.{NOTICES_STREAM}"),
    Attempt("read the notices directly", "publish", f"{JS}.DIRECT.GET.{NOTICES_STREAM}",
            frozenset({"reader"}) | EVERY_SERVICE),
    Attempt("follow the notices as they are published", "subscribe", "rapport.notice.>",
            frozenset({"reader", "gateway"})),
    Attempt("a notices consumer of any name", "publish",
            f"{JS}.CONSUMER.CREATE.{NOTICES_STREAM}.sneaky"),
    Attempt("read with the webhooks' consumer", "publish",
            f"{JS}.CONSUMER.MSG.NEXT.{NOTICES_STREAM}.rapport-webhooks", frozenset({"webhooks"})),
    Attempt("delete the webhooks' consumer", "publish",
            f"{JS}.CONSUMER.DELETE.{NOTICES_STREAM}.rapport-webhooks", frozenset({"webhooks"})),
    # webhooks: administrators only (the gateway carries their HTTP requests)
    Attempt("add a webhook", "publish", "rapport.ctl.webhooks.add", frozenset({"gateway"})),
    Attempt("answer webhook requests", "subscribe", "rapport.ctl.webhooks.>",
            frozenset({"webhooks"})),
)  # fmt: skip


@pytest.fixture
async def roled(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedNats, dict[str, str]]]:
    """A server with every role, as `rapport up` configures its embedded one; the passwords."""
    passwords = {role: secrets.token_urlsafe(12) for role in (*ROLES, "admin")}
    server = EmbeddedNats(
        tmp_path / "nats",
        port=free_port(),
        name=f"roles-{tmp_path.name}",
        auth={"user": "admin", "password": passwords["admin"]},
        authorization=render({role: quote(password) for role, password in passwords.items()}),
    )
    await server.start()
    admin = await nats.connect(server.url, user="admin", password=passwords["admin"])
    await ensure_streams(admin.jetstream())
    await admin.jetstream().publish(
        "rapport.ev.rel-1.connection.made",
        raw(event("connection.made", "rel-1")),
    )
    await admin.close()
    try:
        yield server, passwords
    finally:
        server.stop()


async def as_role(url: str, role: str, password: str, errors: list[str]) -> NATS:
    async def noted(exc: Exception) -> None:
        errors.append(str(exc))

    return await nats.connect(
        url, user=role, password=password, inbox_prefix=f"_INBOX.{role}", error_cb=noted
    )


async def refused(errors: list[str], attempt: Attempt) -> bool:
    """Whether the server said no to this attempt (within 5 s)."""
    verb = "publish" if attempt.kind == "publish" else "subscription"
    wanted = f'permissions violation for {verb} to "{attempt.subject}"'.lower()  # as nats-py has it
    for _ in range(100):
        if any(wanted in error.lower() for error in errors):
            return True
        await asyncio.sleep(0.05)
    return False


async def streams_as_they_were(url: str, password: str) -> dict[str, Any]:
    admin = await nats.connect(url, user="admin", password=password)
    try:
        js = admin.jetstream()
        found: dict[str, Any] = {}
        for info in await js.streams_info():
            found[info.config.name or ""] = (
                info.state.messages,
                info.config.max_msgs,
                tuple(info.config.subjects or ()),
            )
        consumers = await js.consumers_info(EVENTS_STREAM)
        found["consumers"] = sorted(c.name for c in consumers)
        return found
    finally:
        await admin.close()


@pytest.mark.parametrize("role", ROLES)
async def test_every_role_is_refused_what_it_may_not_do(
    roled: tuple[EmbeddedNats, dict[str, str]], role: str
) -> None:
    server, passwords = roled
    before = await streams_as_they_were(server.url, passwords["admin"])
    assert before[EVENTS_STREAM] == (1, -1, ("rapport.ev.>",))
    errors: list[str] = []
    client = await as_role(server.url, role, passwords[role], errors)
    allowed: list[str] = []
    try:
        for attempt in ATTEMPTS:
            if role in attempt.allowed:
                continue
            if attempt.kind == "publish":
                await client.publish(attempt.subject, attempt.body, reply=client.new_inbox())
            else:
                await client.subscribe(attempt.subject)
            if not await refused(errors, attempt):
                allowed.append(f"{attempt.what} ({attempt.subject})")
    finally:
        await client.close()
    assert allowed == [], f"{role} was allowed: {allowed}"
    assert await streams_as_they_were(server.url, passwords["admin"]) == before


async def test_a_client_without_credentials_is_turned_away(
    roled: tuple[EmbeddedNats, dict[str, str]],
) -> None:
    server, _ = roled
    for user, password in ((None, None), ("admin", "not-the-password"), ("producer", "")):
        with pytest.raises((NatsError, NoServersError)):
            await nats.connect(
                server.url,
                user=user,
                password=password,
                allow_reconnect=False,
                max_reconnect_attempts=0,
                connect_timeout=2,
            )


async def test_the_services_work_with_only_their_own_roles(
    roled: tuple[EmbeddedNats, dict[str, str]], tmp_path: Path
) -> None:
    """Least privilege still lets every door work: ingest as producer, queries as reader."""
    server, passwords = roled

    def as_(role: str) -> Settings:
        return Settings(
            nats_url=server.url,
            nats_user=role,
            nats_password=SecretStr(passwords[role]),
            data_dir=tmp_path / "data",
        )

    projections = [ProjectionService(as_(name), SPECS[name]) for name in sorted(PROJECTIONS)]
    for service in projections:
        await service.start()
    ingest = IngestService(as_("ingest"))
    await ingest.start()
    producer = await nats.connect(
        server.url, user="producer", password=passwords["producer"], inbox_prefix="_INBOX.producer"
    )
    reader = await nats.connect(
        server.url, user="reader", password=passwords["reader"], inbox_prefix="_INBOX.reader"
    )
    try:
        reply = await request_ingest(producer, raw(event("connection.made", "rel-2")), 10)
        assert reply["rejected"] == []
        assert len(reply["accepted"]) == 1
        question = {"relationship_id": "rel-2", "min_seq": reply["accepted"][0]["seq"]}
        stage = await ask(reader, "rapport.q.stage.get", question, within=5)
        assert stage.value()["stage"] == "connection"
        health = await ask(reader, "rapport.q.health.get", question, within=5)
        assert health.value()["relationship_id"] == "rel-2"
    finally:
        await producer.close()
        await reader.close()
        await ingest.stop()
        for service in projections:
            await service.stop()
