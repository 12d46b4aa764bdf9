"""Webhooks on a real nats-server, delivering to a real HTTP receiver on loopback.

The receiver verifies every signature with the `standardwebhooks` library (the secret is the
one `add` showed once); scripted receivers fail, hang, or recover, and the attempts the
service keeps are checked against what the receiver saw.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from standardwebhooks import Webhook

from events.subjects import EVENTS_STREAM
from services.notices.webhooks_client import ask_webhooks
from services.webhooks.service import WebhooksService
from tests.conftest import wait_for
from tests.factories import event
from tests.publishing import publish

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from nats.aio.client import Client as NATS

    from services.config.settings import Settings
    from services.projection.service import ProjectionService

NOW = datetime.now(UTC)


@dataclass
class Receiver:
    """An HTTP receiver on 127.0.0.1 answering each request as `script(n)` says (None: hang)."""

    script: Callable[[int], int | None]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def stop(self) -> None:
        self._release.set()
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")[1:]
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines if x)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            number = len(self.requests)
            self.requests.append((headers, body))
            status = self.script(number)
            if status is None:
                await self._release.wait()
                return
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    """Loopback allowed (the receiver's), quick retries, short timeouts."""
    return settings.model_copy(
        update={
            "webhook_allow": "127.0.0.1",
            "webhook_retry_seconds": 0.05,
            "webhook_timeout": 1.0,
        }
    )


@pytest.fixture
async def webhooks(
    hook_settings: Settings, services: dict[str, ProjectionService[Any]]
) -> AsyncIterator[WebhooksService]:
    service = WebhooksService(hook_settings)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def receiver(script: Callable[[int], int | None]) -> Receiver:
    found = Receiver(script)
    await found.start()
    return found


async def ask(nc: NATS, verb: str, **payload: Any) -> dict[str, Any]:
    answer = await ask_webhooks(nc, verb, payload, within=5)
    assert answer.data is not None, answer.problem
    return answer.data


async def add(nc: NATS, url: str, **options: Any) -> dict[str, Any]:
    added = await ask(nc, "add", url=url, **options)
    assert "error" not in added, added
    assert added["secret"].startswith("whsec_")
    return added


def verified(secret: str, request: tuple[dict[str, str], bytes]) -> dict[str, Any]:
    headers, body = request
    payload: dict[str, Any] = Webhook(secret).verify(body, headers)
    return payload


async def change_stage(nc: NATS, rel: str, to: str, event_id: str) -> int:
    return await publish(nc, event("stage.changed", rel, {"to": to}, at=NOW, event_id=event_id))


async def test_every_delivery_is_signed_and_in_order_per_relationship(
    nc: NATS, webhooks: WebhooksService
) -> None:
    hook = await receiver(lambda n: 200)
    try:
        added = await add(nc, hook.url, kinds=["stage.changed"])
        for rel in ("rel-a", "rel-b"):
            await publish(nc, event("connection.made", rel, at=NOW))
        steps = ["awareness", "engagement", "conversion"]
        for step in steps:
            for rel in ("rel-a", "rel-b"):
                await change_stage(nc, rel, step, f"{rel}-{step}")
        await wait_for(lambda: len(hook.requests) >= 6, within=15, what="six deliveries")
        payloads = [verified(added["secret"], request) for request in hook.requests]
        for rel in ("rel-a", "rel-b"):
            seen = [p["data"]["to"] for p in payloads if p["subject"] == rel]
            assert seen == steps
        assert {request[0]["webhook-id"] for request in hook.requests} == {
            f"stage.changed:{rel}-{step}" for rel in ("rel-a", "rel-b") for step in steps
        }
        with pytest.raises(Exception, match="signature"):  # another secret does not verify
            Webhook("whsec_" + "A" * 32).verify(hook.requests[0][1], hook.requests[0][0])

        async def all_delivered() -> bool:
            [item] = (await ask(nc, "list"))["items"]
            assert "secret" not in item
            return bool(item["deliveries"] == {"delivered": 6})

        await wait_for(all_delivered, what="six deliveries recorded")
    finally:
        await hook.stop()


async def test_three_failures_then_success_is_one_notice_and_four_attempts(
    nc: NATS, webhooks: WebhooksService
) -> None:
    hook = await receiver(lambda n: 500 if n < 3 else 200)
    try:
        added = await add(nc, hook.url)
        await publish(nc, event("connection.made", "rel-1", at=NOW))
        await change_stage(nc, "rel-1", "awareness", "once")

        async def delivered() -> bool:
            items = (await ask(nc, "deliveries", id=added["id"]))["items"]
            return bool(items) and items[0]["status"] == "delivered"

        await wait_for(delivered, within=15, what="the delivery after three failures")
        [delivery] = (await ask(nc, "deliveries", id=added["id"]))["items"]
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500, 200]
        assert [a["outcome"] for a in delivery["attempts"]] == ["failed"] * 3 + ["delivered"]
        assert all(a["latency_ms"] >= 0 for a in delivery["attempts"])
        # the receiver saw the same notice four times, the same id each time, and took it once
        assert len(hook.requests) == 4
        assert {r[0]["webhook-id"] for r in hook.requests} == {"stage.changed:once"}
        assert [verified(added["secret"], r)["id"] for r in hook.requests] == [
            "stage.changed:once"
        ] * 4
    finally:
        await hook.stop()


async def test_a_hanging_receiver_does_not_hold_the_projections_back(
    nc: NATS, webhooks: WebhooksService, services: dict[str, ProjectionService[Any]]
) -> None:
    hook = await receiver(lambda n: None)  # never answers
    try:
        await add(nc, hook.url)
        await publish(nc, event("connection.made", "rel-1", at=NOW))
        await change_stage(nc, "rel-1", "awareness", "first")
        await wait_for(lambda: len(hook.requests) >= 1, what="the receiver to hang")
        started = time.monotonic()
        last = 0
        for n in range(200):
            last = await publish(nc, event("interaction.recorded", f"rel-{n % 20}", at=NOW))
            if n % 50 == 0:
                await change_stage(nc, f"rel-{n}", "awareness", f"s{n}")
        stream_last = (await nc.jetstream().stream_info(EVENTS_STREAM)).state.last_seq
        await wait_for(
            lambda: all(s.projector.applied_seq >= stream_last for s in services.values()),
            within=10,
            what="every projection to apply the log while the receiver hangs",
        )
        assert time.monotonic() - started < 10
        assert last <= stream_last
        # the hanging attempt timed out and is tried again; nothing was delivered
        [item] = (await ask(nc, "list"))["items"]
        assert item["deliveries"].get("delivered", 0) == 0
    finally:
        await hook.stop()


async def test_given_up_after_the_time_allowed_then_resent(
    nc: NATS, hook_settings: Settings, services: dict[str, ProjectionService[Any]]
) -> None:
    quick = hook_settings.model_copy(update={"webhook_give_up_hours": 0.3 / 3600})
    service = WebhooksService(quick)
    await service.start()
    healthy = False
    hook = await receiver(lambda n: 200 if healthy else 503)
    try:
        added = await add(nc, hook.url, kinds=["stage.changed"])
        await publish(nc, event("connection.made", "rel-1", at=NOW))
        await change_stage(nc, "rel-1", "awareness", "doomed")

        async def failing() -> bool:
            [item] = (await ask(nc, "list"))["items"]
            return bool(item["state"] == "failing")

        await wait_for(failing, within=10, what="the webhook marked failing")
        [delivery] = (await ask(nc, "deliveries", id=added["id"]))["items"]
        assert delivery["status"] == "given-up"
        assert delivery["attempt_count"] >= 2
        [item] = (await ask(nc, "list"))["items"]
        assert "gave up on stage.changed:doomed" in item["last_error"]

        healthy = True
        resent = await ask(nc, "resend", delivery_id=delivery["id"])
        assert resent["status"] == "pending"

        async def delivered() -> bool:
            [item] = (await ask(nc, "list"))["items"]
            return bool(item["state"] == "active" and item["deliveries"] == {"delivered": 1})

        await wait_for(delivered, within=10, what="the resent delivery")
    finally:
        await hook.stop()
        await service.stop()


async def test_kinds_and_owner_choose_what_a_webhook_receives(
    nc: NATS, webhooks: WebhooksService
) -> None:
    mine = await receiver(lambda n: 200)
    decisions = await receiver(lambda n: 200)
    try:
        await add(nc, mine.url, owner="maria")
        await add(nc, decisions.url, kinds=["proposal.decided"])
        await publish(nc, event("connection.made", "rel-m", at=NOW))  # maria@example.com
        other = {"owner": "bob@example.com", "counterpart": {"name": "B"}}
        await publish(nc, event("connection.made", "rel-b", other, at=NOW))
        await change_stage(nc, "rel-m", "awareness", "m1")
        await change_stage(nc, "rel-b", "awareness", "b1")
        for name in ("drafted", "submitted", "accepted"):
            await publish(nc, event(f"proposal.{name}", "rel-b", {"proposal_id": "p", "title": "T"}
                                    if name == "drafted" else {"proposal_id": "p"}, at=NOW,
                                    event_id=f"p-{name}"))  # fmt: skip
        await wait_for(lambda: len(decisions.requests) >= 1, what="the decision")
        await wait_for(lambda: len(mine.requests) >= 1, what="maria's stage change")
        assert [r[0]["webhook-id"] for r in decisions.requests] == ["proposal.decided:p-accepted"]
        assert [r[0]["webhook-id"] for r in mine.requests] == ["stage.changed:m1"]
    finally:
        await mine.stop()
        await decisions.stop()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata"),
        ("http://[::ffff:169.254.169.254]/", "cloud metadata"),
        ("http://169.254.10.1/hook", "link-local"),
        ("http://127.0.0.2:9/hook", "loopback"),  # only 127.0.0.1 is allowed here
        ("http://[::1]:9/hook", "loopback"),
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.com/x", "only http and https"),
        ("https://user:secret@example.com/hook", "user or password"),
        ("http:///nohost", "names no host"),
        ("http://exa mple.com/", "spaces"),
    ],
)
async def test_urls_that_may_not_be_reached_are_refused_in_words(
    nc: NATS, webhooks: WebhooksService, url: str, says: str
) -> None:
    refused = await ask(nc, "add", url=url)
    assert refused["error"]["code"] == "invalid"
    assert refused["error"]["message"].startswith("url: ")
    assert says in refused["error"]["message"]
    assert (await ask(nc, "list"))["items"] == []


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({}, "url"),
        ({"url": "http://127.0.0.1:9/", "kinds": ["stage.moved"]}, "kinds.0"),
        ({"url": "http://127.0.0.1:9/", "owner": ""}, "owner"),
        ({"url": "http://127.0.0.1:9/", "colour": "red"}, "colour"),
    ],
)
async def test_bad_requests_name_the_field(
    nc: NATS, webhooks: WebhooksService, payload: dict[str, Any], says: str
) -> None:
    refused = await ask(nc, "add", **payload)
    assert refused["error"]["code"] == "invalid"
    assert says in refused["error"]["message"]
    for verb, body in (("remove", {"id": "wh_nope"}), ("deliveries", {"id": "wh_nope"})):
        missing = await ask(nc, verb, **body)
        assert missing["error"] == {"code": "not_found", "message": "id: no webhook wh_nope"}
    reply = await nc.request("rapport.ctl.webhooks.add", b"not json", timeout=5)
    assert orjson.loads(reply.data)["error"]["code"] == "invalid"


async def test_loopback_is_refused_unless_allowed(
    nc: NATS, settings: Settings, services: dict[str, ProjectionService[Any]]
) -> None:
    service = WebhooksService(settings)  # no RAPPORT_WEBHOOK_ALLOW
    await service.start()
    try:
        refused = await ask(nc, "add", url="http://127.0.0.1:9/hook")
        assert "loopback" in refused["error"]["message"]
        assert "RAPPORT_WEBHOOK_ALLOW" in refused["error"]["message"]
    finally:
        await service.stop()


async def test_the_store_keeps_secrets_to_its_owner(
    nc: NATS, webhooks: WebhooksService, hook_settings: Settings
) -> None:
    await add(nc, "http://127.0.0.1:9/hook")
    store = hook_settings.data_dir / "webhooks.db"
    assert store.stat().st_mode & 0o777 == 0o600
    removed = await ask(nc, "list")
    [item] = removed["items"]
    assert (await ask(nc, "remove", id=item["id"])) == {"removed": item["id"]}
    assert (await ask(nc, "list"))["items"] == []
