"""`rapport service webhooks`: deliver notices to the registered webhooks, at least once, in order.

- Intake: its own durable consumer (`rapport-webhooks`) on `RAPPORT_NOTICES`. For each notice,
  one delivery per webhook that wants it (its kinds, its owner, added before the notice was
  stored), committed with the notice's sequence in one transaction, then acknowledged: a
  redelivered notice makes no second delivery.
- Delivery: the oldest pending delivery of each (webhook, relationship) goes when its time has
  come, so a relationship's notices arrive in the order they were published; other
  relationships and other webhooks go on meanwhile. A failed attempt (not 2xx, a timeout, a
  refused connection) is retried after `RAPPORT_WEBHOOK_RETRY_SECONDS`, doubling up to
  `RAPPORT_WEBHOOK_RETRY_MAX_SECONDS`; once `RAPPORT_WEBHOOK_GIVE_UP_HOURS` have passed the
  delivery is given up and its webhook marked failing (until one of its deliveries succeeds).
  Every attempt is kept: when, outcome, HTTP status, latency.
- Requests (administrators: `rapport webhook`, `/v1/webhooks`) on `rapport.ctl.webhooks.<verb>`:
  `add`, `list`, `remove`, `deliveries`, `resend`.

It runs apart from the projections and only reads the notice stream: a failing or hanging
receiver slows nothing but its own deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import secrets
import time
from typing import IO, TYPE_CHECKING, Any, TypeVar

import httpx
from faststream.nats import NatsMessage  # noqa: TC002  (FastStream resolves it at runtime)
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import BaseModel, ValidationError

from events.notices import owner_matches, read_notice
from events.parsing import describe
from events.subjects import NOTICES_FILTER, NOTICES_STREAM, webhooks_subject
from services.config.failures import Failure
from services.config.tasks import stop_task
from services.nats.broker import add_ping, make_broker, start_broker
from services.nats.connection import connect
from services.nats.roles import WEBHOOKS_CONSUMER
from services.nats.streams import STREAM_WAIT, ensure_streams
from services.nats.wire import error_reply, reply
from services.webhooks import sender
from services.webhooks.requests import AddWebhook, DeliveriesQuery, Request, Resend, WebhookRef
from services.webhooks.store import GIVEN_UP, Webhook, WebhookStore
from services.webhooks.targets import Allowed, BadTarget, check_target

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from nats.aio.client import Client as NATS
    from nats.js import JetStreamContext

    from services.config.settings import Settings
    from services.webhooks.store import Delivery

log = logging.getLogger("rapport.webhooks")

HOUR = 3600.0
IN_FLIGHT = 32  # attempts at once, all webhooks together
PER_WEBHOOK = 8  # attempts at once to one webhook (a hanging one keeps the rest going)
FETCH = 100  # notices taken in at once
RequestT = TypeVar("RequestT", bound=BaseModel)


class WebhooksLocked(Failure):
    """Another webhooks service already delivers from this data dir."""


class RequestError(Exception):
    """A request that cannot be answered: the contract's code and a message naming the field."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class WebhooksService:
    """Takes notices in, delivers them, answers the administrators' requests."""

    name = "webhooks"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.allowed = Allowed.parse(settings.webhook_allow)
        self.broker = make_broker(settings, self.name)
        self.store = WebhookStore(settings.data_dir / "webhooks.db")
        self._nc: NATS | None = None
        self._lock: IO[bytes] | None = None
        self._client: httpx.AsyncClient | None = None
        self._webhooks: list[Webhook] = []
        self._intake_seq = 0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._attempts: set[asyncio.Task[None]] = set()
        self._stopping = False  # a flag as well as a cancel (services.config.tasks)
        self._in_flight: set[tuple[str, str]] = set()
        self.problem: str | None = None
        self.stats = {"taken_in": 0, "delivered": 0, "failed_attempts": 0, "given_up": 0}
        add_ping(self.broker, self)
        self._answer("add", AddWebhook, self.add)
        self._answer("list", Request, self.list)
        self._answer("remove", WebhookRef, self.remove)
        self._answer("deliveries", DeliveriesQuery, self.deliveries)
        self._answer("resend", Resend, self.resend)

    # -- requests -------------------------------------------------------------------------------

    def _answer(
        self,
        verb: str,
        model: type[RequestT],
        handler: Callable[[RequestT], Awaitable[dict[str, Any]]],
    ) -> None:
        @self.broker.subscriber(webhooks_subject(verb))
        async def answer(msg: NatsMessage) -> bytes:
            return await self.handle(model, handler, msg.body)

    async def handle(
        self,
        model: type[RequestT],
        handler: Callable[[RequestT], Awaitable[dict[str, Any]]],
        body: bytes,
    ) -> bytes:
        """Validate a request, answer it, and word every refusal (never a traceback)."""
        try:
            request = model.model_validate_json(body or b"{}")
        except ValidationError as exc:
            return error_reply("invalid", "; ".join(describe(exc, body)))
        try:
            return reply(await handler(request))
        except RequestError as exc:
            return error_reply(exc.code, str(exc))
        except Exception as exc:  # answer anyway: the asker is waiting; the log has the rest
            log.exception("webhooks: a request failed")
            return error_reply("unavailable", f"the webhooks service failed: {exc}")

    async def add(self, request: AddWebhook) -> dict[str, Any]:
        """Register a webhook; its secret is in this reply only."""
        try:
            await check_target(request.url, self.allowed)
        except BadTarget as exc:
            raise RequestError("invalid", str(exc)) from None
        info = await self.js.stream_info(NOTICES_STREAM)
        webhook = Webhook(
            id=f"wh_{secrets.token_hex(6)}",
            url=request.url,
            kinds=tuple(request.kinds),
            owner=request.owner,
            secret=sender.new_secret(),
            created_at=time.time(),
            after_seq=info.state.last_seq,  # it receives what is published from now on
            failing_since=None,
            last_error=None,
        )
        await self.store.add(webhook)
        self._webhooks = await self.store.webhooks()
        log.info("webhook %s added: %s", webhook.id, webhook.url)
        return {**webhook.public(), "secret": webhook.secret}

    async def list(self, _: Request) -> dict[str, Any]:
        """Every webhook with its counts of deliveries (never a secret)."""
        counts = await self.store.counts()
        items = [
            {**webhook.public(), "deliveries": counts.get(webhook.id, {})}
            for webhook in await self.store.webhooks()
        ]
        return {"items": items}

    async def remove(self, request: WebhookRef) -> dict[str, Any]:
        """Forget a webhook and what it was owed."""
        if not await self.store.remove(request.id):
            raise RequestError("not_found", f"id: no webhook {request.id}")
        self._webhooks = await self.store.webhooks()
        log.info("webhook %s removed", request.id)
        return {"removed": request.id}

    async def deliveries(self, request: DeliveriesQuery) -> dict[str, Any]:
        """A webhook's latest deliveries, with every attempt."""
        webhook = await self.store.webhook(request.id)
        if webhook is None:
            raise RequestError("not_found", f"id: no webhook {request.id}")
        items = await self.store.deliveries(request.id, request.limit)
        return {"webhook": webhook.public(), "items": items}

    async def resend(self, request: Resend) -> dict[str, Any]:
        """Deliver a delivery again (delivered, given up, or waiting: it goes now)."""
        now = time.time()
        deadline = now + self.settings.webhook_give_up_hours * HOUR
        webhook_id = await self.store.resend(request.delivery_id, now, deadline)
        if webhook_id is None:
            raise RequestError("not_found", f"delivery_id: no delivery {request.delivery_id}")
        self._wake.set()
        return {"delivery_id": request.delivery_id, "webhook_id": webhook_id, "status": "pending"}

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def js(self) -> JetStreamContext:
        """JetStream on the service's connection."""
        assert self._nc is not None, "the service is not started"
        return self._nc.jetstream(timeout=self.settings.request_timeout * 2)

    async def start(self) -> None:
        """Lock the store, connect, take notices in, deliver, answer."""
        self._stopping = False
        self._lock = lock_store(self.settings)
        await self.store.open()
        self._webhooks = await self.store.webhooks()
        self._intake_seq = await self.store.intake_seq()
        self._nc = await connect(self.settings, self.name)
        await ensure_streams(
            self._nc.jetstream(),
            self.settings.replicas,
            self.settings.duplicate_window,
            create=False,  # only an administrator creates streams
            wait=STREAM_WAIT,
            notice_days=self.settings.notice_days,
        )
        self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self._tasks = [
            asyncio.create_task(self._take_notices_in(), name="webhooks-intake"),
            asyncio.create_task(self._dispatch(), name="webhooks-dispatch"),
        ]
        await start_broker(self.broker)

    async def stop(self) -> None:
        """Stop answering and delivering; what is pending is delivered after the next start."""
        await self.broker.stop()
        self._stopping = True
        for task in [*self._tasks, *self._attempts]:
            task.cancel()
        for task in [*self._tasks, *self._attempts]:
            await stop_task(task)
        if self._client is not None:
            await self._client.aclose()
        await self.store.close()
        if self._nc is not None:
            # flush and close, not drain: the intake's cancelled pull leaves its inbox waiting
            # for a reply that nobody reads, and drain would sit out its 30 s timeout on it
            with contextlib.suppress(Exception):
                await self._nc.flush(timeout=2)
            with contextlib.suppress(Exception):
                await self._nc.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def status(self) -> dict[str, Any]:
        """What was taken in and delivered, and what keeps it from work."""
        return {
            **self.stats,
            "webhooks": len(self._webhooks),
            "intake_seq": self._intake_seq,
            "in_flight": len(self._attempts),
            "problem": self.problem,
        }

    # -- intake ---------------------------------------------------------------------------------

    async def _take_notices_in(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                subscription = await self.js.pull_subscribe(
                    NOTICES_FILTER,
                    durable=WEBHOOKS_CONSUMER,
                    stream=NOTICES_STREAM,
                    config=ConsumerConfig(
                        ack_policy=AckPolicy.EXPLICIT,
                        deliver_policy=DeliverPolicy.ALL,
                        ack_wait=60,
                        max_ack_pending=10 * FETCH,
                    ),
                )
                while True:
                    try:
                        messages = await subscription.fetch(FETCH, timeout=1.0)
                    except (NatsTimeout, TimeoutError):
                        continue
                    for message in messages:
                        await self._take_in(message.metadata.sequence.stream, message.data)
                        await message.ack()
                    self.problem = None
                    backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                said = f"cannot read {NOTICES_STREAM}: {exc.__class__.__name__}: {exc}"
                if said != self.problem:
                    log.warning("%s; retrying", said)
                self.problem = said
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _take_in(self, seq: int, body: bytes) -> None:
        """Make the deliveries one notice owes (once: a redelivery is skipped by its seq)."""
        if seq <= self._intake_seq:
            return
        notice = read_notice(body)
        now = time.time()
        deadline = now + self.settings.webhook_give_up_hours * HOUR
        owed = []
        if notice is None:
            log.warning("%s seq %d is not a notice; nothing delivered", NOTICES_STREAM, seq)
        else:
            for webhook in self._webhooks:
                if seq <= webhook.after_seq:
                    continue
                if webhook.kinds and notice.kind not in webhook.kinds:
                    continue
                if webhook.owner is not None and not owner_matches(webhook.owner, notice.owner):
                    continue
                owed.append(
                    (webhook.id, notice.id, seq, notice.subject, notice.kind, body, now, deadline)
                )
        await self.store.take_in(seq, owed)
        self._intake_seq = seq
        self.stats["taken_in"] += 1
        if owed:
            self._wake.set()

    # -- delivery -------------------------------------------------------------------------------

    async def _dispatch(self) -> None:
        while not self._stopping:
            try:
                delay = await self._send_what_is_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhooks: dispatching failed; trying again")
                delay = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()

    async def _send_what_is_due(self) -> float:
        """Start the attempts whose time has come; how long until the next may be due."""
        now = time.time()
        per_webhook: dict[str, int] = {}
        for webhook_id, _ in self._in_flight:
            per_webhook[webhook_id] = per_webhook.get(webhook_id, 0) + 1
        for delivery in await self.store.due(now, IN_FLIGHT * 4):
            key = (delivery.webhook_id, delivery.relationship_id)
            busy = per_webhook.get(delivery.webhook_id, 0)
            if key in self._in_flight or busy >= PER_WEBHOOK or len(self._attempts) >= IN_FLIGHT:
                continue
            self._in_flight.add(key)
            per_webhook[delivery.webhook_id] = busy + 1
            task = asyncio.create_task(self._deliver(delivery, key))
            self._attempts.add(task)
            task.add_done_callback(self._attempts.discard)
        upcoming = await self.store.next_due()
        if upcoming is None or upcoming <= now:
            return 1.0  # what is due now waits for an attempt to end (which wakes this)
        return min(1.0, upcoming - now)

    async def _deliver(self, delivery: Delivery, key: tuple[str, str]) -> None:
        try:
            webhook = next((w for w in self._webhooks if w.id == delivery.webhook_id), None)
            if webhook is None:
                return  # removed meanwhile: its deliveries went with it
            assert self._client is not None
            attempt = await sender.attempt(
                self._client,
                webhook.url,
                webhook.secret,
                delivery.notice_id,
                delivery.body,
                allowed=self.allowed,
                within=self.settings.webhook_timeout,
            )
            now = time.time()
            retry_at = None
            if attempt.delivered:
                self.stats["delivered"] += 1
            else:
                self.stats["failed_attempts"] += 1
                wait = self.settings.webhook_retry_seconds * 2 ** min(delivery.attempts, 30)
                wait = min(wait, self.settings.webhook_retry_max_seconds)
                if now + wait <= delivery.deadline:
                    retry_at = now + wait
            status = await self.store.attempted(delivery, attempt, now, retry_at=retry_at)
            if status == GIVEN_UP:
                self.stats["given_up"] += 1
                self._webhooks = await self.store.webhooks()
                log.warning(
                    "webhook %s: gave up on %s after %d attempts (%s)",
                    webhook.id,
                    delivery.notice_id,
                    delivery.attempts + 1,
                    attempt.outcome,
                )
            elif attempt.delivered and webhook.failing_since is not None:
                self._webhooks = await self.store.webhooks()
        finally:
            self._in_flight.discard(key)
            self._wake.set()


def lock_store(settings: Settings) -> IO[bytes]:
    """Hold the webhooks store of this data dir: two services would deliver everything twice."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle = (settings.data_dir / "webhooks.lock").open("a+b")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise WebhooksLocked(
            f"another webhooks service delivers from {settings.data_dir}; run one per data dir"
        ) from None
    return handle
