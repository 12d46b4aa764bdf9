"""`rapport service ingest`: validated ingest over NATS on `rapport.ingest` (queue group)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faststream.nats import NatsMessage  # noqa: TC002  (FastStream resolves it at runtime)

from events.subjects import INGEST_SUBJECT
from services.connection import connect
from services.hosting import add_ping, error_reply, make_broker, reply, start_broker
from services.ingest import BodyError, Ingestor
from services.streams import ensure_streams

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.settings import Settings

INGEST_QUEUE = "rapport-ingest"


class IngestService:
    """Answers ingest requests; replicas share them through the queue group."""

    name = "ingest"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.broker = make_broker(settings, self.name)
        self._nc: NATS | None = None
        self._ingestor: Ingestor | None = None
        self.requests = 0
        add_ping(self.broker, self)

        @self.broker.subscriber(INGEST_SUBJECT, queue=INGEST_QUEUE)
        async def ingest(msg: NatsMessage) -> bytes:
            return await self.handle(msg.body)

    async def handle(self, body: bytes) -> bytes:
        """Ingest one request body and word the reply."""
        assert self._ingestor is not None, "the service is not started"
        self.requests += 1
        if len(body) > self.settings.max_body_bytes:
            message = f"body: {len(body)} bytes is more than the limit of "
            message += f"{self.settings.max_body_bytes}"
            return error_reply("invalid", message, accepted=[], rejected=[])
        try:
            result = await self._ingestor.ingest(body)
        except BodyError as exc:
            rejected = [{"id": None, "error": str(exc), "code": "invalid"}]
            return error_reply("invalid", str(exc), accepted=[], rejected=rejected)
        return reply(result.reply())

    async def start(self) -> None:
        """Connect, make sure the streams exist, and start answering."""
        self._nc = await connect(self.settings, self.name)
        await ensure_streams(
            self._nc.jetstream(), self.settings.replicas, self.settings.duplicate_window
        )
        self._ingestor = Ingestor(
            self._nc,
            max_batch=self.settings.max_batch,
            publish_timeout=self.settings.publish_timeout,
        )
        await start_broker(self.broker)

    async def stop(self) -> None:
        """Finish in-flight requests, then disconnect."""
        await self.broker.stop()
        if self._ingestor is not None:
            await self._ingestor.close()
        if self._nc is not None:
            await self._nc.drain()

    def status(self) -> dict[str, Any]:
        """Requests answered so far."""
        return {"requests": self.requests}
