"""What every projection store shares: SQLite in WAL mode, the checkpoint, the event ids read.

View rows, the ids of the events read (each with its stream sequence and digest: the first
stored copy of an id counts, see `events.reading`) and the checkpoint (the last applied stream
sequence) commit in one transaction, so a projection applies every event exactly once, even
after kill -9; the count of dead letters commits with them.
The writer has its own connection; queries, and the projector's reads of the states it is
about to fold, go through another (WAL lets them run while the writer commits).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sqlite3
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import aiosqlite

if TYPE_CHECKING:
    from collections.abc import (
        AsyncIterator,
        Awaitable,
        Callable,
        Collection,
        Hashable,
        Iterable,
        Mapping,
        Sequence,
    )
    from pathlib import Path

    from events.reading import FirstCopy

NewId = tuple[str, int, bytes]  # (event id, stream sequence, digest) of a first stored copy
OutboxRow = tuple[str, str, bytes]  # (notice id, subject, CloudEvent JSON) of a notice to publish
S = TypeVar("S")
T = TypeVar("T")
MEMO_SIZE = 2_000  # values `memo` keeps for one generation of a store, at most (~20 MB)

COMMON_TABLES = (
    """CREATE TABLE IF NOT EXISTS rapport_meta (
        key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS event_ids (
        event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, digest BLOB NOT NULL) WITHOUT ROWID""",
    # notices committed with the batch that caused them, published after (services.notices)
    """CREATE TABLE IF NOT EXISTS notice_outbox (
        n INTEGER PRIMARY KEY, notice_id TEXT NOT NULL UNIQUE, subject TEXT NOT NULL,
        body BLOB NOT NULL)""",
)
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",  # WAL + NORMAL: a commit survives a process crash
    "PRAGMA temp_store=MEMORY",
    "PRAGMA busy_timeout=10000",
)
# Page caches per connection (KiB): the writer's matters most; the OS caches the file too.
WRITER_CACHE = "PRAGMA cache_size=-32768"
READER_CACHE = "PRAGMA cache_size=-16384"
POINT_CACHE = "PRAGMA cache_size=-4096"
# The point connection reads on the event loop: it may wait for a lock only briefly.
POINT_BUSY = "PRAGMA busy_timeout=200"
OUTBOX_INSERT = "INSERT OR IGNORE INTO notice_outbox (notice_id, subject, body) VALUES (?,?,?)"
META_UPSERT = (
    "INSERT INTO rapport_meta (key, value) VALUES (?, ?) "
    "ON CONFLICT(key) DO UPDATE SET value=excluded.value"
)
SQLITE_MAX_VARS = 900  # well under every SQLite build's limit on bound parameters


def chunked(items: Sequence[Any], size: int = SQLITE_MAX_VARS) -> Iterable[Sequence[Any]]:
    """Slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def placeholders(count: int) -> str:
    """`?,?,?` for `count` parameters."""
    return ",".join(itertools.repeat("?", count))


def owner_filter(owner: str, column: str = "owner") -> tuple[str, list[str]]:
    """SQL (and its parameters) matching an owner given by email, or by the name before the @.

    `maria@example.com` matches itself; `maria` matches `maria` and every `maria@…`. Both
    read the owner index (a range, not a LIKE).
    """
    if "@" in owner:
        return f"{column} = ?", [owner]
    # every string that starts with `maria@` sorts in [`maria@`, `mariaA`): '@' + 1 is 'A'
    return f"({column} = ? OR ({column} >= ? AND {column} < ?))", [owner, f"{owner}@", f"{owner}A"]


class SqliteStore(Generic[S]):
    """Base of the projection stores: subclasses give tables, row mapping and queries."""

    tables: tuple[str, ...] = ()

    def __init__(self, path: Path, cache_size: int = 20_000) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._point: sqlite3.Connection | None = None
        self._cache: OrderedDict[str, S] = OrderedDict()
        self._cache_size = cache_size
        # one transaction at a time on the writer: the projector's and the notice outbox's
        self.write_lock = asyncio.Lock()
        # write transactions committed since it opened: what was read before may be stale
        self.generation = 0
        self._memo: dict[Hashable, Any] = {}
        self._memo_generation = 0

    async def open(self) -> None:
        """Open (and create) the store: readable by its owner only (it holds names, emails)."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        writer = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in (*PRAGMAS, WRITER_CACHE):
            await writer.execute(pragma)
        for ddl in (*COMMON_TABLES, *self.tables):
            await writer.execute(ddl)
        for suffix in ("", "-wal", "-shm"):  # SQLite gives its WAL files the store's mode
            with contextlib.suppress(FileNotFoundError):
                os.chmod(f"{self.path}{suffix}", 0o600)
        self._writer = writer
        reader = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in (*PRAGMAS[2:], READER_CACHE, "PRAGMA query_only=ON"):
            await reader.execute(pragma)
        self._reader = reader
        # A primary-key read takes SQLite tens of microseconds, less than handing it to a
        # thread and back: single-row queries read synchronously on the event loop.
        point = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in (*PRAGMAS[2:], POINT_CACHE, POINT_BUSY, "PRAGMA query_only=ON"):
            point.execute(pragma)
        self._point = point

    async def close(self) -> None:
        """Close the connections."""
        for connection in (self._reader, self._writer):
            if connection is not None:
                await connection.close()
        self._reader = self._writer = None
        if self._point is not None:
            self._point.close()
            self._point = None

    async def read_one(self, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """One row by key: read at once on the loop, or through the read connection if busy."""
        assert self._point is not None, "store is not open"
        try:
            row: tuple[Any, ...] | None = self._point.execute(sql, params).fetchone()
        except sqlite3.OperationalError:  # locked for longer than POINT_BUSY: do not block
            rows = await self.read_all(sql, params)
            row = rows[0] if rows else None
        return row

    @property
    def writer(self) -> aiosqlite.Connection:
        """The projector's connection."""
        assert self._writer is not None, "store is not open"
        return self._writer

    async def read_all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row a query finds, read through the read connection in one step.

        One step (the statement runs and is done in one call to the connection's thread): a
        statement left open across an `await` holds a read transaction that every other read
        on the connection joins, and they would not see what commits after it opened (the
        projector would take an event committed since for a first copy).
        """
        assert self._reader is not None, "store is not open"
        return await _fetch_all(self._reader, sql, params)

    async def checkpoint(self) -> int:
        """The last stream sequence whose effects are committed (0: none)."""
        return int(await self.meta("checkpoint", "0", reader=False))

    async def meta(self, key: str, default: str, *, reader: bool = True) -> str:
        """A value of the store's own bookkeeping."""
        sql, params = "SELECT value FROM rapport_meta WHERE key=?", (key,)
        rows = await (
            self.read_all(sql, params) if reader else _fetch_all(self.writer, sql, params)
        )
        return str(rows[0][0]) if rows else default

    async def memo(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """What `read` reads of the store, read once until the next write commits: a page
        many people look at while the store does not change is read (and decoded) once.

        Exact: a value read while a write committed is not kept.
        """
        memo = self._current_memo()
        if key in memo:
            return cast("T", memo[key])
        generation = self.generation
        value = await read()
        self._keep(generation, {key: value})
        return value

    async def committed(self, keys: Sequence[str]) -> dict[str, S]:
        """Committed states of these relationships for a query (absent ones are left out),
        each read and decoded once until the next write commits (as `memo`)."""
        memo = self._current_memo()
        found: dict[str, S] = {}
        missing: list[str] = []
        for key in keys:
            if ("state", key) not in memo:
                missing.append(key)
            elif (state := memo[("state", key)]) is not None:
                found[key] = state
        if missing:
            generation = self.generation
            read = await self.load_rows(missing)
            found.update(read)
            self._keep(generation, {("state", key): read.get(key) for key in missing})
        return found

    def _current_memo(self) -> dict[Hashable, Any]:
        if self._memo_generation != self.generation:
            self._memo = {}
            self._memo_generation = self.generation
        return self._memo

    def _keep(self, generation: int, values: Mapping[Hashable, Any]) -> None:
        """Keep values read at `generation`, unless a write has committed since."""
        if generation == self.generation and len(self._memo) + len(values) <= MEMO_SIZE:
            self._current_memo().update(values)

    async def first_copies(self, event_ids: Collection[str]) -> dict[str, FirstCopy]:
        """(seq, digest) of the first stored copy of each of these ids this store has read."""
        found: dict[str, FirstCopy] = {}
        for part in chunked(list(event_ids)):
            sql = (
                "SELECT event_id, seq, digest FROM event_ids "
                f"WHERE event_id IN ({placeholders(len(part))})"
            )
            for event_id, seq, digest in await self.read_all(sql, part):
                found[event_id] = (seq, bytes(digest))
        return found

    async def dead_lettered(self) -> int:
        """How many stored messages this store's projection has dead-lettered, ever."""
        return int(await self.meta("dead_lettered", "0", reader=False))

    async def set_meta(self, key: str, value: str) -> None:
        """Record a value of the store's own bookkeeping (outside any batch)."""
        await self.writer.execute(
            "INSERT INTO rapport_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    async def load(self, keys: Collection[str]) -> dict[str, S]:
        """Committed states of these relationships (absent ones are left out).

        Read through the read connection, so that the next batch can be folded while the
        writer commits the previous one.
        """
        found: dict[str, S] = {}
        missing = []
        for key in keys:
            state = self._cache.get(key)
            if state is None:
                missing.append(key)
            else:
                found[key] = state
        if missing:
            found.update(await self.load_rows(missing))
        return found

    async def commit(
        self,
        changes: Mapping[str, tuple[S | None, S]],
        seq: int,
        new_ids: Sequence[NewId],
        dead_letters: int = 0,
        notices: Sequence[OutboxRow] = (),
    ) -> None:
        """Write changed states, new event ids, the dead-letter count, the notices this batch
        brought (to publish once committed) and the checkpoint at once."""
        async with self.transaction() as writer:
            if changes:
                await self.write_rows(writer, changes)
            if new_ids:
                await writer.executemany(
                    "INSERT OR IGNORE INTO event_ids (event_id, seq, digest) VALUES (?,?,?)",
                    new_ids,
                )
            if dead_letters:
                await writer.execute(
                    "INSERT INTO rapport_meta (key, value) VALUES ('dead_lettered', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=CAST(value AS INTEGER) + ?",
                    (str(dead_letters), dead_letters),
                )
            if notices:
                await writer.executemany(OUTBOX_INSERT, notices)
            await writer.execute(
                "INSERT INTO rapport_meta (key, value) VALUES ('checkpoint', ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (str(seq),),
            )
        for key, (_, state) in changes.items():
            self._cache[key] = state
            self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """The writer, in one write transaction (committed at the end, rolled back on error);
        one at a time: the projector's, the outbox's and the upkeep's."""
        async with self.write_lock:
            writer = self.writer
            await writer.execute("BEGIN IMMEDIATE")
            try:
                yield writer
                await writer.execute("COMMIT")
                self.generation += 1
            except BaseException:
                if writer.in_transaction:  # a failed COMMIT (e.g. a full disk) has rolled back
                    await writer.execute("ROLLBACK")
                raise

    # -- the notice outbox: written with a batch (or a due touch), published after ----------

    async def add_notices(self, notices: Sequence[OutboxRow], meta: Mapping[str, str]) -> None:
        """Put notices in the outbox and record `meta` (e.g. a watermark) in one transaction."""
        async with self.transaction() as writer:
            if notices:
                await writer.executemany(OUTBOX_INSERT, notices)
            await writer.executemany(META_UPSERT, list(meta.items()))

    async def unsent_notices(self, limit: int) -> list[tuple[int, OutboxRow]]:
        """The oldest notices not yet published: (outbox number, (id, subject, body))."""
        sql = "SELECT n, notice_id, subject, body FROM notice_outbox ORDER BY n LIMIT ?"
        rows = await self.read_all(sql, (limit,))
        return [(n, (notice_id, subject, bytes(body))) for n, notice_id, subject, body in rows]

    async def notices_sent(self, numbers: Sequence[int]) -> None:
        """Forget notices JetStream has acknowledged (in one transaction)."""
        if not numbers:
            return
        ordered = sorted(numbers)
        async with self.transaction() as writer:
            if ordered[-1] - ordered[0] + 1 == len(ordered):  # a run of numbers, as sent
                await writer.execute(
                    "DELETE FROM notice_outbox WHERE n BETWEEN ? AND ?", (ordered[0], ordered[-1])
                )
                return
            for part in chunked(ordered):
                await writer.execute(
                    f"DELETE FROM notice_outbox WHERE n IN ({placeholders(len(part))})", part
                )

    async def read_states(
        self, table: str, keys: Sequence[str], decode: Callable[[str, bytes], S]
    ) -> dict[str, S]:
        """Decoded `state` blobs of these relationships from `table` (read connection)."""
        found: dict[str, S] = {}
        for part in chunked(list(keys)):
            sql = (
                f"SELECT relationship_id, state FROM {table} "  # table: a constant of a subclass
                f"WHERE relationship_id IN ({placeholders(len(part))})"
            )
            for relationship_id, blob in await self.read_all(sql, part):
                found[relationship_id] = decode(relationship_id, blob)
        return found

    # -- what each projection store provides ----------------------------------------------

    async def load_rows(self, keys: Sequence[str]) -> dict[str, S]:
        """Read committed states from the store's tables (through the read connection)."""
        raise NotImplementedError

    async def write_rows(
        self, writer: aiosqlite.Connection, changes: Mapping[str, tuple[S | None, S]]
    ) -> None:
        """Write changed states (inside the open transaction)."""
        raise NotImplementedError

    async def upkeep(self, now: float) -> bool:
        """Do the work the projector leaves for later (what costs more than folding, e.g.
        scores for queries to find rows by); run in the background once it has caught up.

        Returns False when this store has none (then nobody needs to wait for it).
        """
        return False


async def _fetch_all(
    connection: aiosqlite.Connection, sql: str, params: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """Every row of a query, run and fetched in one call to the connection's thread."""
    return [tuple(row) for row in await connection.execute_fetchall(sql, params)]
