"""`rapport service ingest`: validated ingest over NATS on `rapport.ingest` (queue group).

It holds no state of its own: ids are looked up in the projections' index of event ids
(`rapport.q.identity.lookup`), stages and proposals read from the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faststream.nats import NatsMessage  # noqa: TC002  (FastStream resolves it at runtime)

from events.subjects import INGEST_SUBJECT
from services.ingest.body import BodyError
from services.ingest.ingestor import Ingestor
from services.nats.broker import add_ping, make_broker, start_broker
from services.nats.connection import connect
from services.nats.streams import STREAM_WAIT, ensure_streams
from services.nats.wire import error_reply, reply
from services.queries import identity

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings

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
            return body_refused("too_large", message)
        try:
            result = await self._ingestor.ingest(body)
        except BodyError as exc:
            return body_refused(exc.code, str(exc))
        return reply(result.reply())

    async def start(self) -> None:
        """Connect, make sure the streams exist, and start answering."""
        self._nc = await connect(self.settings, self.name)
        await ensure_streams(
            self._nc.jetstream(),
            self.settings.replicas,
            self.settings.duplicate_window,
            create=False,  # only an administrator creates streams
            wait=STREAM_WAIT,
        )
        index: identity.IdIndex = (
            identity.RemoteIndex(self._nc, self.settings.request_timeout)
            if self.settings.ingest_identity
            else identity.WindowOnly()
        )
        self._ingestor = Ingestor(
            self._nc,
            index,
            duplicate_window=self.settings.duplicate_window,
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
        """Requests answered so far, and why JetStream stores nothing, when it does not."""
        problem = self._ingestor.problem if self._ingestor is not None else None
        return {"requests": self.requests, "problem": problem}


def body_refused(code: str, message: str) -> bytes:
    """The reply to a body that holds no events at all: nothing in it was taken."""
    rejected = [{"id": None, "error": message, "code": "invalid"}]
    return error_reply(code, message, accepted=[], rejected=rejected)
