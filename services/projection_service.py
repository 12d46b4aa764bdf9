"""`rapport service stage|health|proposals`: a projector and its queries in one process.

The projector keeps the store current; the queries answer from the same store (through its
read connection) on `rapport.q.<projection>.<query>` in a queue group, so replicas share the
load. Every reply carries `applied_seq`; `min_seq` waits for read-your-writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
from faststream.nats import NatsMessage  # noqa: TC002  (FastStream resolves it at runtime)
from pydantic import ValidationError

from events.parsing import describe
from events.queries import IdsQuery
from events.subjects import IDENTITY_SUBJECT, query_subject
from services.connection import connect, flush
from services.cursors import BadCursor
from services.hosting import add_ping, error_reply, make_broker, reply, start_broker, swap_subject
from services.log_reader import DirectReader
from services.partitioning import partition_of, partition_subject
from services.projector import Projector
from services.store_files import (
    current_store,
    generation_pattern,
    lock_projection,
    next_store,
    publish_store,
    remove_store,
    replay_token,
)
from services.streams import ensure_streams

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from nats.aio.client import Client as NATS
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

    from events.queries import Query
    from events.reading import FirstCopy
    from projections.base import Fold
    from projections.store_base import SqliteStore
    from services.settings import Settings

log = logging.getLogger("rapport.queries")

QUERY_WORKERS = 64
FIRST_COPIES_WAIT = 1.0  # seconds a log read waits for the projection to catch up with it


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
    subject: str | None = None  # when not rapport.q.<projection>.<name> (e.g. rapport.q.audit)
    queue: str | None = None  # when not the projection's own queue group
    # With partitions: a query naming a relationship goes to its owner; one that does not is
    # asked of every partition and merged by `merge` (without `merge`, any replica answers).
    merge: Callable[[Any, list[dict[str, Any]]], dict[str, Any]] | None = None


@dataclass(frozen=True)
class ProjectionSpec:
    """How to run one projection: its fold, its store and its queries.

    `version` names what the fold computes: a store built by another version is rebuilt from
    the log when the service starts.
    """

    name: str
    fold: Fold[Any]
    store: Callable[..., SqliteStore[Any]]
    routes: Callable[[ProjectionService], list[Route]]
    version: int = 1


def identity_route(service: ProjectionService) -> Route:
    """`rapport.q.identity.lookup`: every projection's store is an index of event ids."""
    from services.identity import IDENTITY_QUEUE, IndexBehind, lookup

    async def answer(query: IdsQuery) -> dict[str, Any]:
        try:
            return await lookup(service, query)
        except IndexBehind as exc:
            raise QueryError("unavailable", str(exc)) from None

    return Route("lookup", IdsQuery, answer, subject=IDENTITY_SUBJECT, queue=IDENTITY_QUEUE)


class ProjectionService:
    """One projection: its projector, store and query handlers."""

    def __init__(self, settings: Settings, spec: ProjectionSpec) -> None:
        self.name = spec.name
        self.settings = settings
        self.spec = spec
        self.store = spec.store(current_store(settings.data_dir, spec.name))
        self.broker = make_broker(settings, spec.name)
        self._nc: NATS | None = None
        self._reader: DirectReader | None = None
        self._projector: Projector[Any] | None = None
        self._lock: IO[bytes] | None = None
        self.latency: dict[str, list[float]] = {}
        self._swap_lock = asyncio.Lock()
        # queries in flight per store generation: a swapped-out store closes once they finish
        self._generation = 0
        self._in_flight: Counter[int] = Counter()
        self._drained = asyncio.Condition()
        add_ping(self.broker, self)
        self.routes = [*spec.routes(self), identity_route(self)]
        self._answering: set[asyncio.Task[None]] = set()
        self._subscriptions: list[Subscription] = []
        self._capacity = asyncio.Semaphore(QUERY_WORKERS)

        @self.broker.subscriber(swap_subject(self.name, settings.instance))
        async def swap(msg: NatsMessage) -> bytes:
            try:
                return await self.swap(msg.body)
            except Exception as exc:  # always answer: `rapport replay` waits for the reply
                log.exception("%s: swap failed", self.name)
                return error_reply("unavailable", f"swap failed: {exc}")

    async def _subscribe_queries(self) -> None:
        """Answer every route on its subject (queue group), and on this partition's subject.

        nats-py directly, not FastStream, for queries: a FastStream handler added ~0.85 ms to
        every request on this machine (1.27 ms against 0.42 ms p50 across processes), and a
        query's whole budget is 2 ms. Each request is answered in its own task, so one
        waiting on SQLite does not hold up the others (at most QUERY_WORKERS at once).
        """
        assert self._nc is not None
        partitions = self.settings.partitions
        for route in self.routes:
            subject = route.subject or query_subject(self.name, route.name)
            self._subscriptions.append(
                await self._nc.subscribe(
                    subject,
                    queue=route.queue or f"rapport-q-{self.name}",
                    cb=self._responder(route, self.route),
                )
            )
            if partitions > 1:
                own = partition_subject(self.name, self.settings.partition, route.name)
                self._subscriptions.append(
                    await self._nc.subscribe(
                        own,
                        queue=f"rapport-q-{self.name}-p{self.settings.partition}",
                        cb=self._responder(route, self.answer),
                    )
                )
        await flush(self._nc)  # the server knows every subscription before we say ready

    def _responder(
        self, route: Route, handle: Callable[[Route, bytes], Awaitable[bytes]]
    ) -> Callable[[Msg], Awaitable[None]]:
        async def respond(msg: Msg) -> None:
            await self._capacity.acquire()
            task = asyncio.create_task(self._reply(route, handle, msg))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

        return respond

    async def _reply(
        self, route: Route, handle: Callable[[Route, bytes], Awaitable[bytes]], msg: Msg
    ) -> None:
        try:
            if msg.reply:
                await msg.respond(await handle(route, msg.data))
        except Exception:  # a reply that cannot be sent: the requester times out
            log.exception("%s.%s: could not reply", self.name, route.name)
        finally:
            self._capacity.release()

    def owns(self, relationship_id: str | None) -> bool:
        """True when this replica's partition holds the relationship."""
        partitions = self.settings.partitions
        if relationship_id is None:  # a malformed subject: partition 0 dead-letters it
            return self.settings.partition == 0
        return partition_of(relationship_id, partitions) == self.settings.partition

    async def route(self, route: Route, body: bytes) -> bytes:
        """Answer here, at the relationship's owner, or merged from every partition."""
        partitions = self.settings.partitions
        if partitions == 1:
            return await self.answer(route, body)
        try:
            query = route.model.model_validate_json(body or b"{}")
        except ValidationError:
            return await self.answer(route, body)  # which words the error
        relationship = getattr(query, "relationship_id", None)
        if relationship is not None:
            return await self._at(partition_of(relationship, partitions), route, body)
        if route.merge is None:
            return await self.answer(route, body)
        replies = [
            orjson.loads(raw)
            for raw in await asyncio.gather(*(self._at(k, route, body) for k in range(partitions)))
        ]
        for partial in replies:
            if "error" in partial:
                return reply(partial)
        merged = route.merge(query, replies)
        merged["applied_seq"] = min(partial["applied_seq"] for partial in replies)
        return reply(merged)

    async def _at(self, partition: int, route: Route, body: bytes) -> bytes:
        if partition == self.settings.partition:
            return await self.answer(route, body)
        assert self._nc is not None
        subject = partition_subject(self.name, partition, route.name)
        wait = orjson.loads(body or b"{}").get("wait_ms", 2000) / 1000
        try:
            message = await self._nc.request(
                subject, body, timeout=self.settings.request_timeout + wait
            )
        except Exception as exc:
            return error_reply(
                "unavailable", f"partition {partition} of {self.name} did not answer ({exc})"
            )
        return bytes(message.data)

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
        generation = self._generation
        self._in_flight[generation] += 1
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
            self._in_flight[generation] -= 1
            if not self._in_flight[generation]:
                async with self._drained:
                    self._drained.notify_all()
            self.latency.setdefault(route.name, []).append(time.perf_counter() - started)
            if len(self.latency[route.name]) > 2048:
                del self.latency[route.name][:1024]
        payload["applied_seq"] = applied
        return reply(payload)

    async def start(self) -> None:
        """Open the store, resume the projector, start answering."""
        self._lock = lock_projection(self.settings.data_dir, self.name)
        await self._open_store()
        self._nc = await connect(self.settings, self.name)
        await ensure_streams(
            self._nc.jetstream(), self.settings.replicas, self.settings.duplicate_window
        )
        self._reader = DirectReader(self._nc, timeout=self.settings.request_timeout * 2)
        self._projector = self._projector_for(
            self.store, f"rapport-{self.name}-{self.settings.instance}", live=True
        )
        await self._projector.start()
        await self._subscribe_queries()
        await start_broker(self.broker)

    async def _open_store(self) -> None:
        """Open the store in use; one built by another version of the fold starts afresh."""
        await self.store.open()
        wanted = str(self.spec.version)
        found = await self.store.meta("fold_version", "", reader=False)
        if found == wanted:
            return
        if found or await self.store.checkpoint():
            # what it holds was computed by other rules: rebuild it from the log, from seq 1
            log.warning(
                "%s: the store %s was built by fold version %s, this Rapport folds version %s; "
                "rebuilding it from the log",
                self.name,
                self.store.path.name,
                found or "1",
                wanted,
            )
            await self.store.close()
            path = next_store(self.settings.data_dir, self.name)
            self.store = self.spec.store(path)
            await self.store.open()
            publish_store(self.settings.data_dir, self.name, path)
        await self.store.set_meta("fold_version", wanted)

    async def first_copies(self, ids: set[str], upto_seq: int) -> dict[str, FirstCopy]:
        """What this store knows of the first stored copies of `ids` (the one reader's input).

        Waits briefly until the projection has read up to `upto_seq`, so an id first used by
        another relationship just before is known too.
        """
        await self.projector.wait_applied(upto_seq, FIRST_COPIES_WAIT)
        return await self.store.first_copies(ids)

    async def stop(self) -> None:
        """Stop answering, stop the projector (committed work stays), close the store."""
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        if self._answering:
            await asyncio.wait(set(self._answering), timeout=10)
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

    def _projector_for(
        self, store: SqliteStore[Any], durable: str, *, live: bool
    ) -> Projector[Any]:
        assert self._nc is not None
        return Projector(
            self._nc,
            self.name,
            self.spec.fold,
            store,
            batch_size=self.settings.batch_size,
            durable=durable,
            acknowledge=live,
            owns=self.owns if self.settings.partitions > 1 else None,
        )

    async def swap(self, body: bytes) -> bytes:
        """Adopt a rebuilt store: catch it up to the live one, then switch without a pause.

        Queries keep being answered from the old store until the switch, so they never see a
        half-built store; the pointer file is rewritten atomically. Only a store that the
        replay running now built for this projection is adopted (see `_rebuilt_store`).
        """
        async with self._swap_lock:
            checked = await self._rebuilt_store(body)
            if isinstance(checked, str):
                return error_reply("invalid", checked)
            path = checked
            fresh = self.spec.store(path)
            await fresh.open()
            durable = f"rapport-{self.name}-{self.settings.instance}"
            catch_up = self._projector_for(fresh, f"{durable}-swap", live=False)
            try:
                await catch_up.start()
                if not await catch_up.wait_applied(self.projector.applied_seq, 300):
                    raise TimeoutError("the rebuilt store did not catch up within 300 s")
                old_projector, old_store = self.projector, self.store
                await old_projector.stop()
                if not await catch_up.wait_applied(old_projector.applied_seq, 300):
                    await old_projector.start()
                    raise TimeoutError("the rebuilt store did not catch up within 300 s")
            except Exception as exc:
                await catch_up.stop()
                await fresh.close()
                return error_reply("unavailable", f"swap abandoned: {exc}")
            await catch_up.stop()
            live = self._projector_for(fresh, durable, live=True)
            await live.start()
            self.store, self._projector = fresh, live
            publish_store(self.settings.data_dir, self.name, path)
            retired, self._generation = self._generation, self._generation + 1
            async with self._drained:  # let queries reading the old store finish first
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._drained.wait_for(lambda: not self._in_flight[retired]), 30
                    )
            self._in_flight.pop(retired, None)
            await old_store.close()
            remove_store(old_store.path, self.settings.data_dir, self.name)
            log.info("%s: now answering from %s (seq %d)", self.name, path, live.applied_seq)
            return reply({"swapped": True, "store": str(path), "applied_seq": live.applied_seq})

    async def _rebuilt_store(self, body: bytes) -> Path | str:
        """The store a swap request names, or why it is refused.

        Adopted only when it is a store generation file (`<name>.<n>.db`) in this data dir,
        not the one in use, and carries the token of the replay of this projection that holds
        the replay lock now (replay writes it into both).
        """
        try:
            request = orjson.loads(body)
            path, token = Path(request["path"]), str(request["token"])
        except (ValueError, KeyError, TypeError):
            return 'path: send {"path": "<rebuilt store>", "token": "<the replay\'s token>"}'
        name = self.name
        problem = _not_a_generation(path, self.settings.data_dir, name, self.store.path)
        if problem:
            return problem
        running = replay_token(self.settings.data_dir, name)
        if running is None or not secrets.compare_digest(running, token):
            return f"token: no replay of {name} holding this token runs on this data dir"
        candidate = self.spec.store(path)
        try:
            await candidate.open()
            built_for = await candidate.meta("rebuild_token", "", reader=False)
        except Exception as exc:  # not a SQLite store at all
            return f"path: {path} is not a {name} store ({exc})"
        finally:
            await candidate.close()
        if not secrets.compare_digest(built_for, token):
            return f"path: {path} was not built by that replay"
        return path

    def status(self) -> dict[str, Any]:
        """The projector's counters and query latencies."""
        status = self.projector.status() if self._projector else {}
        status["store"] = str(self.store.path.resolve())
        status["instance"] = self.settings.instance
        status["queries"] = {
            name: {"count": len(samples), "p50_ms": _percentile(samples, 0.5) * 1000}
            for name, samples in self.latency.items()
        }
        return status


def _not_a_generation(path: Path, data_dir: Path, name: str, in_use: Path) -> str | None:
    """Why `path` is not a store generation of `name` that a swap may adopt (None: it is)."""
    data_dir = data_dir.resolve()
    if path.resolve().parent != data_dir or not generation_pattern(name).fullmatch(path.name):
        return f"path: {path} is not a {name} store generation (<name>.<n>.db) in {data_dir}"
    if not path.is_file():
        return f"path: {path} does not exist"
    if path.resolve() == in_use.resolve():
        return f"path: {path} is the store in use"
    return None


def _percentile(samples: list[float], q: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
