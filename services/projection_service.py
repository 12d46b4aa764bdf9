"""`rapport service stage|health|proposals`: a projector and its queries in one process.

The projector keeps the store current; the queries answer from the same store (through its
read connection) on `rapport.q.<projection>.<query>` in a queue group, so replicas share the
load. Every reply carries `applied_seq`; `min_seq` waits for read-your-writes.
"""

from __future__ import annotations

import fcntl
import logging
import time
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from faststream.nats import NatsMessage  # noqa: TC002  (FastStream resolves it at runtime)
from pydantic import ValidationError

from events.parsing import describe
from events.subjects import query_subject
from services.connection import connect
from services.cursors import BadCursor
from services.hosting import add_ping, error_reply, make_broker, reply
from services.log_reader import DirectReader
from services.projector import Projector
from services.streams import ensure_streams

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from nats.aio.client import Client as NATS

    from events.queries import Query
    from projections.base import Fold
    from projections.store_base import SqliteStore
    from services.settings import Settings

log = logging.getLogger("rapport.queries")


class QueryError(Exception):
    """A query answered with the contract's error reply."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class NotFound(QueryError):
    """The relationship (or proposal) is unknown."""

    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"{what} is unknown")


@dataclass(frozen=True)
class Route:
    """One query: its name under `rapport.q.<projection>.`, request model and handler."""

    name: str
    model: type[Query]
    handler: Callable[[Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ProjectionSpec:
    """How to run one projection: its fold, its store and its queries."""

    name: str
    fold: Fold[Any]
    store: Callable[..., SqliteStore[Any]]
    routes: Callable[[ProjectionService], list[Route]]


class ProjectionService:
    """One projection: its projector, store and query handlers."""

    def __init__(self, settings: Settings, spec: ProjectionSpec) -> None:
        self.name = spec.name
        self.settings = settings
        self.spec = spec
        self.store = spec.store(settings.data_dir / f"{spec.name}.db")
        self.broker = make_broker(settings, spec.name)
        self._nc: NATS | None = None
        self._reader: DirectReader | None = None
        self._projector: Projector[Any] | None = None
        self._lock: IO[bytes] | None = None
        self.latency: dict[str, list[float]] = {}
        add_ping(self.broker, self)
        for route in spec.routes(self):
            self._register(route)

    def _register(self, route: Route) -> None:
        @self.broker.subscriber(
            query_subject(self.name, route.name), queue=f"rapport-q-{self.name}"
        )
        async def answer(msg: NatsMessage) -> bytes:
            return await self.answer(route, msg.body)

    @property
    def projector(self) -> Projector[Any]:
        """The running projector."""
        assert self._projector is not None, "the service is not started"
        return self._projector

    @property
    def reader(self) -> DirectReader:
        """Direct reads of the log (time travel, audit, history)."""
        assert self._reader is not None, "the service is not started"
        return self._reader

    async def answer(self, route: Route, body: bytes) -> bytes:
        """Validate, wait for `min_seq`, run the query, and add `applied_seq`."""
        started = time.perf_counter()
        try:
            query = route.model.model_validate_json(body or b"{}")
        except ValidationError as exc:
            return error_reply("invalid", "; ".join(describe(exc, body)))
        if query.min_seq is not None and not await self.projector.wait_applied(
            query.min_seq, query.wait_ms / 1000
        ):
            return error_reply(
                "unavailable",
                f"projection {self.name} has applied up to seq {self.projector.applied_seq}; "
                f"seq {query.min_seq} was not applied within {query.wait_ms} ms",
                applied_seq=self.projector.applied_seq,
            )
        applied = self.projector.applied_seq  # what the store reflects at least
        try:
            payload = await route.handler(query)
        except BadCursor as exc:
            return error_reply("invalid", str(exc), applied_seq=applied)
        except QueryError as exc:
            return error_reply(exc.code, str(exc), applied_seq=applied)
        except Exception as exc:  # the client gets an answer; the log gets the details
            log.exception("%s.%s failed", self.name, route.name)
            return error_reply("unavailable", f"query failed: {exc}", applied_seq=applied)
        finally:
            self.latency.setdefault(route.name, []).append(time.perf_counter() - started)
            if len(self.latency[route.name]) > 2048:
                del self.latency[route.name][:1024]
        payload["applied_seq"] = applied
        return reply(payload)

    async def start(self) -> None:
        """Open the store, resume the projector, start answering."""
        self._lock = lock_store(self.store.path)
        await self.store.open()
        self._nc = await connect(self.settings, self.name)
        await ensure_streams(
            self._nc.jetstream(), self.settings.replicas, self.settings.duplicate_window
        )
        self._reader = DirectReader(self._nc, timeout=self.settings.request_timeout * 2)
        self._projector = Projector(
            self._nc,
            self.name,
            self.spec.fold,
            self.store,
            batch_size=self.settings.batch_size,
            durable=f"rapport-{self.name}-{self.settings.instance}",
        )
        await self._projector.start()
        await self.broker.start()

    async def stop(self) -> None:
        """Stop answering, stop the projector (committed work stays), close the store."""
        await self.broker.stop()
        if self._projector is not None:
            await self._projector.stop()
        if self._reader is not None:
            await self._reader.close()
        await self.store.close()
        if self._nc is not None:
            await self._nc.drain()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def status(self) -> dict[str, Any]:
        """The projector's counters and query latencies."""
        status = self.projector.status() if self._projector else {}
        status["queries"] = {
            name: {"count": len(samples), "p50_ms": _percentile(samples, 0.5) * 1000}
            for name, samples in self.latency.items()
        }
        return status


class StoreInUse(RuntimeError):
    """Another process already projects into this store."""


def lock_store(path: Path) -> IO[bytes]:
    """Hold an exclusive lock on the store for this process's lifetime (one writer per store)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.with_suffix(".lock").open("wb")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreInUse(
            f"another process is already projecting into {path}; give each replica its own "
            "--data-dir and RAPPORT_INSTANCE"
        ) from None
    return handle


def _percentile(samples: list[float], q: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
