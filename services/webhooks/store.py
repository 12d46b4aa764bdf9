"""The webhooks service's SQLite store: webhooks (with their secrets), deliveries, attempts.

`<data-dir>/webhooks.db`, 0600 in a 0700 folder: it holds every webhook's signing secret.
A delivery is one notice for one webhook (unique: a notice taken in twice is delivered once);
every attempt at it is kept. The stream sequence of the last notice taken in commits with the
deliveries it made, so the intake is exactly once as the projections are.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiosqlite
import orjson

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

TABLES = (
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS webhooks (
        id TEXT PRIMARY KEY, url TEXT NOT NULL, kinds TEXT NOT NULL, owner TEXT,
        secret TEXT NOT NULL, created_at REAL NOT NULL, after_seq INTEGER NOT NULL,
        failing_since REAL, last_error TEXT)""",
    """CREATE TABLE IF NOT EXISTS deliveries (
        id INTEGER PRIMARY KEY, webhook_id TEXT NOT NULL, notice_id TEXT NOT NULL,
        notice_seq INTEGER NOT NULL, relationship_id TEXT NOT NULL, kind TEXT NOT NULL,
        body BLOB NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL, next_at REAL NOT NULL, deadline REAL NOT NULL,
        finished_at REAL, UNIQUE (webhook_id, notice_id))""",
    """CREATE INDEX IF NOT EXISTS deliveries_waiting
        ON deliveries (status, webhook_id, relationship_id, id)""",
    """CREATE TABLE IF NOT EXISTS attempts (
        delivery_id INTEGER NOT NULL, number INTEGER NOT NULL, at REAL NOT NULL,
        outcome TEXT NOT NULL, status_code INTEGER, latency_ms REAL, error TEXT,
        PRIMARY KEY (delivery_id, number))""",
)
PENDING, DELIVERED, GIVEN_UP = "pending", "delivered", "given-up"


@dataclass(frozen=True, slots=True)
class Webhook:
    """A registered receiver."""

    id: str
    url: str
    kinds: tuple[str, ...]  # empty: every kind
    owner: str | None
    secret: str
    created_at: float
    after_seq: int  # it receives the notices stored after this sequence
    failing_since: float | None
    last_error: str | None

    def public(self) -> dict[str, Any]:
        """What `list` shows (never the secret)."""
        return {
            "id": self.id,
            "url": self.url,
            "kinds": list(self.kinds),
            "owner": self.owner,
            "created_at": self.created_at,
            "state": "failing" if self.failing_since is not None else "active",
            "failing_since": self.failing_since,
            "last_error": self.last_error,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notice owed to one webhook."""

    id: int
    webhook_id: str
    notice_id: str
    relationship_id: str
    body: bytes
    attempts: int
    deadline: float


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt at a delivery came to."""

    outcome: str  # delivered, failed (an HTTP status), timeout, error, refused
    status_code: int | None
    latency_ms: float
    error: str | None

    @property
    def delivered(self) -> bool:
        """The receiver took it (a 2xx answer)."""
        return self.outcome == DELIVERED


WEBHOOK_COLUMNS = "id, url, kinds, owner, secret, created_at, after_seq, failing_since, last_error"


def _webhook(row: Sequence[Any]) -> Webhook:
    ident, url, kinds, owner, secret, created, after, failing, error = row
    return Webhook(
        ident, url, tuple(orjson.loads(kinds)), owner, secret, created, after, failing, error
    )


class WebhookStore:
    """One connection; the service's one event loop is its only user.

    Reads take the lock the writes hold: on one connection, a read made while a write's
    transaction is open would see what that transaction has not committed (and may roll back).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self.lock = asyncio.Lock()  # one transaction at a time: attempts run concurrently

    async def open(self) -> None:
        """Open (and create) the store, readable by its owner only."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"):
            await db.execute(pragma)
        for ddl in TABLES:
            await db.execute(ddl)
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(f"{self.path}{suffix}", 0o600)
        self._db = db

    async def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        """The connection."""
        assert self._db is not None, "the store is not open"
        return self._db

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        # between transactions, in one step (no statement left open across an await)
        async with self.lock:
            return list(await self.db.execute_fetchall(sql, params))

    # -- webhooks ------------------------------------------------------------------------------

    async def add(self, webhook: Webhook) -> None:
        """Register a webhook."""
        async with self.lock:
            await self._add(webhook)

    async def _add(self, webhook: Webhook) -> None:
        await self.db.execute(
            f"INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                webhook.id,
                webhook.url,
                orjson.dumps(list(webhook.kinds)).decode(),
                webhook.owner,
                webhook.secret,
                webhook.created_at,
                webhook.after_seq,
                None,
                None,
            ),
        )

    async def webhooks(self) -> list[Webhook]:
        """Every webhook, oldest first."""
        rows = await self._all(f"SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id")
        return [_webhook(row) for row in rows]

    async def webhook(self, webhook_id: str) -> Webhook | None:
        """One webhook."""
        rows = await self._all(
            f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?", (webhook_id,)
        )
        return _webhook(rows[0]) if rows else None

    async def remove(self, webhook_id: str) -> bool:
        """Forget a webhook, its deliveries and their attempts (False: there was none)."""
        async with self.lock:
            return await self._remove(webhook_id)

    async def _remove(self, webhook_id: str) -> bool:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            cursor = await db.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
            removed = cursor.rowcount > 0
            await db.execute(
                "DELETE FROM attempts WHERE delivery_id IN "
                "(SELECT id FROM deliveries WHERE webhook_id = ?)",
                (webhook_id,),
            )
            await db.execute("DELETE FROM deliveries WHERE webhook_id = ?", (webhook_id,))
            await db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                await db.execute("ROLLBACK")
            raise
        return removed

    async def counts(self) -> dict[str, dict[str, int]]:
        """Deliveries by webhook and status."""
        rows = await self._all(
            "SELECT webhook_id, status, COUNT(*) FROM deliveries GROUP BY webhook_id, status"
        )
        found: dict[str, dict[str, int]] = {}
        for webhook_id, status, count in rows:
            found.setdefault(webhook_id, {})[status] = count
        return found

    # -- taking notices in ---------------------------------------------------------------------

    async def intake_seq(self) -> int:
        """The stream sequence of the last notice taken in."""
        rows = await self._all("SELECT value FROM meta WHERE key = 'intake_seq'")
        return int(rows[0][0]) if rows else 0

    async def take_in(self, seq: int, deliveries: Sequence[tuple[Any, ...]]) -> None:
        """Record the deliveries one notice makes, and that it was taken in, at once.

        Each delivery: (webhook id, notice id, seq, relationship id, kind, body, now, deadline).
        """
        async with self.lock:
            await self._take_in(seq, deliveries)

    async def _take_in(self, seq: int, deliveries: Sequence[tuple[Any, ...]]) -> None:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            if deliveries:
                await db.executemany(
                    "INSERT OR IGNORE INTO deliveries (webhook_id, notice_id, notice_seq, "
                    "relationship_id, kind, body, status, created_at, next_at, deadline) "
                    f"VALUES (?,?,?,?,?,?,'{PENDING}',?,?,?)",
                    [(*d[:7], d[6], d[7]) for d in deliveries],
                )
            await db.execute(
                "INSERT INTO meta (key, value) VALUES ('intake_seq', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(seq),),
            )
            await db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                await db.execute("ROLLBACK")
            raise

    # -- delivering ----------------------------------------------------------------------------

    async def due(self, now: float, limit: int) -> list[Delivery]:
        """The first pending delivery of each (webhook, relationship) whose time has come.

        Only the oldest pending one of a relationship may go: a relationship's notices reach
        a webhook in the order they were published.
        """
        rows = await self._all(
            "SELECT d.id, d.webhook_id, d.notice_id, d.relationship_id, d.body, d.attempts, "
            "d.deadline FROM deliveries d "
            f"WHERE d.status = '{PENDING}' AND d.next_at <= ? AND d.id = ("
            f"  SELECT MIN(e.id) FROM deliveries e WHERE e.status = '{PENDING}' "
            "   AND e.webhook_id = d.webhook_id AND e.relationship_id = d.relationship_id) "
            "ORDER BY d.next_at, d.id LIMIT ?",
            (now, limit),
        )
        return [Delivery(r[0], r[1], r[2], r[3], bytes(r[4]), r[5], r[6]) for r in rows]

    async def next_due(self) -> float | None:
        """When the earliest pending delivery may be tried."""
        rows = await self._all(f"SELECT MIN(next_at) FROM deliveries WHERE status = '{PENDING}'")
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    async def attempted(
        self,
        delivery: Delivery,
        attempt: Attempt,
        at: float,
        *,
        retry_at: float | None,
    ) -> str:
        """Keep an attempt; the delivery's new status (pending again, delivered, given up)."""
        async with self.lock:
            return await self._attempted(delivery, attempt, at, retry_at)

    async def _attempted(
        self, delivery: Delivery, attempt: Attempt, at: float, retry_at: float | None
    ) -> str:
        number = delivery.attempts + 1
        if attempt.delivered:
            status = DELIVERED
        else:
            status = PENDING if retry_at is not None else GIVEN_UP
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            await db.execute(
                "INSERT OR REPLACE INTO attempts (delivery_id, number, at, outcome, status_code, "
                "latency_ms, error) VALUES (?,?,?,?,?,?,?)",
                (
                    delivery.id,
                    number,
                    at,
                    attempt.outcome,
                    attempt.status_code,
                    round(attempt.latency_ms, 3),
                    attempt.error,
                ),
            )
            await db.execute(
                "UPDATE deliveries SET attempts = ?, status = ?, next_at = ?, finished_at = ? "
                "WHERE id = ?",
                (
                    number,
                    status,
                    retry_at if retry_at is not None else at,
                    None if status == PENDING else at,
                    delivery.id,
                ),
            )
            if status == DELIVERED:
                await db.execute(
                    "UPDATE webhooks SET failing_since = NULL, last_error = NULL WHERE id = ?",
                    (delivery.webhook_id,),
                )
            elif status == GIVEN_UP:
                await db.execute(
                    "UPDATE webhooks SET failing_since = COALESCE(failing_since, ?), "
                    "last_error = ? WHERE id = ?",
                    (
                        at,
                        f"gave up on {delivery.notice_id}: {describe(attempt)}",
                        delivery.webhook_id,
                    ),
                )
            await db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                await db.execute("ROLLBACK")
            raise
        return status

    async def deliveries(self, webhook_id: str, limit: int) -> list[dict[str, Any]]:
        """A webhook's latest deliveries, newest first, each with every attempt."""
        rows = await self._all(
            "SELECT id, notice_id, notice_seq, relationship_id, kind, status, attempts, "
            "created_at, next_at, finished_at FROM deliveries WHERE webhook_id = ? "
            "ORDER BY id DESC LIMIT ?",
            (webhook_id, limit),
        )
        found = []
        for ident, notice, seq, rel, kind, status, count, created, next_at, finished in rows:
            attempts = await self._all(
                "SELECT number, at, outcome, status_code, latency_ms, error FROM attempts "
                "WHERE delivery_id = ? ORDER BY number",
                (ident,),
            )
            found.append(
                {
                    "id": ident,
                    "notice_id": notice,
                    "notice_seq": seq,
                    "relationship_id": rel,
                    "kind": kind,
                    "status": status,
                    "attempt_count": count,
                    "created_at": created,
                    "next_attempt_at": next_at if status == PENDING else None,
                    "finished_at": finished,
                    "attempts": [
                        {
                            "number": number,
                            "at": at,
                            "outcome": outcome,
                            "status_code": code,
                            "latency_ms": latency,
                            "error": error,
                        }
                        for number, at, outcome, code, latency, error in attempts
                    ],
                }
            )
        return found

    async def resend(self, delivery_id: int, now: float, deadline: float) -> str | None:
        """Send a delivery again from now on (its webhook id; None: no such delivery)."""
        rows = await self._all("SELECT webhook_id FROM deliveries WHERE id = ?", (delivery_id,))
        if not rows:
            return None
        async with self.lock:
            await self.db.execute(
                f"UPDATE deliveries SET status = '{PENDING}', next_at = ?, deadline = ?, "
                "finished_at = NULL WHERE id = ?",
                (now, deadline, delivery_id),
            )
        return str(rows[0][0])


def describe(attempt: Attempt) -> str:
    """An attempt's outcome in a few words."""
    if attempt.status_code is not None:
        return f"HTTP {attempt.status_code}"
    return f"{attempt.outcome}: {attempt.error}" if attempt.error else attempt.outcome
