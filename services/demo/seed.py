"""Seed the demo dataset: the validated ingest for the events, a raw publish for rule-breakers.

The events go as NATS requests to `rapport.ingest` in batches of at most 500, exactly like
`rapport emit --file`; the few stage changes that break a rule are published straight to
JetStream with `Nats-Msg-Id` = event id, as a raw publisher would, so the audit has rejected
changes to show. Seeding again is idempotent: the ids are the same, and already-stored ids
are not stored again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from events.queries import MAX_WAIT_MS
from events.subjects import query_subject, stage_subject
from services.demo.data import DEFAULT_SEED, generate
from services.ingest.client import request_ingest
from services.nats.connection import connect
from services.queries.identity import RemoteIndex

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS
    from rich.console import Console

    from services.config.settings import Settings

BATCH = 500
CATCH_UP_MS = 60_000  # how long the projections may take to apply the whole dataset
# one cheap read-your-writes query per projection
CATCH_UP_QUERIES: tuple[tuple[str, dict[str, Any]], ...] = (
    (query_subject("stage", "funnel"), {}),
    (query_subject("health", "summary"), {}),
    (query_subject("proposals", "pending"), {"limit": 1}),
)


@dataclass
class SeedReport:
    """What seeding stored: counts, refusals and the last stream sequence written."""

    relationships: int = 0
    accepted: int = 0
    duplicates: int = 0
    raw_published: int = 0
    raw_already_stored: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (event id, why)
    last_seq: int = 0
    caught_up: bool = False

    def summary(self) -> str:
        """One line for the console."""
        line = (
            f"demo: {self.relationships} relationships, {self.accepted} events accepted "
            f"({self.duplicates} already stored), {self.raw_published} rule-breaking stage "
            f"changes published raw ({self.raw_already_stored} already stored)"
        )
        if self.rejected:
            line += f", {len(self.rejected)} refused"
        return line


async def seed_demo(
    settings: Settings,
    console: Console,
    *,
    relationships: int = 300,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
) -> SeedReport:
    """Generate the demo dataset and store it; wait until the projections have applied it."""
    data = generate(today or datetime.now(UTC).date(), relationships=relationships, seed=seed)
    report = SeedReport(relationships=len(data.relationships))
    nc = await connect(settings, "demo", retry_forever=False)
    columns = (
        TextColumn("[bold]demo"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8} ev/s"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("demo", total=len(data.events) + len(data.raw), rate="")
            started = time.monotonic()
            for start in range(0, len(data.events), BATCH):
                batch = data.events[start : start + BATCH]
                await _ingest(nc, settings, batch, report)
                progress.advance(task, len(batch))
                done = start + len(batch)
                progress.update(task, rate=f"{done / max(time.monotonic() - started, 1e-6):,.0f}")
            await _publish_raw(nc, settings, data.raw, report)
            progress.advance(task, len(data.raw))
        with console.status("waiting for the projections to apply the demo data"):
            report.caught_up = await _wait_applied(nc, settings, report.last_seq)
    finally:
        await nc.close()
    return report


async def _ingest(
    nc: NATS, settings: Settings, batch: list[dict[str, Any]], report: SeedReport
) -> None:
    body = orjson.dumps(batch)
    # a batch holds stage changes, each checked and appended one by one: allow for them
    reply = await request_ingest(nc, body, within=settings.publish_timeout * 6)
    if "error" in reply and not reply.get("rejected"):
        message = reply["error"].get("message", "refused")
        report.rejected.extend((event["id"], message) for event in batch)
        return
    for entry in reply.get("accepted", []):
        report.accepted += 1
        report.duplicates += bool(entry.get("duplicate"))
        report.last_seq = max(report.last_seq, int(entry["seq"]))
    report.rejected.extend((entry.get("id") or "?", entry["error"]) for entry in reply["rejected"])


async def _publish_raw(
    nc: NATS, settings: Settings, events: list[dict[str, Any]], report: SeedReport
) -> None:
    """Publish rule-breaking stage changes straight to JetStream, once per event id."""
    js = nc.jetstream(timeout=settings.publish_timeout)
    # the duplicate window is short: a re-run days later asks the index of event ids
    index = RemoteIndex(nc, settings.request_timeout)
    stored = await index.first_copies({event["id"] for event in events}, upto_seq=report.last_seq)
    for event in events:
        if event["id"] in stored:
            report.raw_already_stored += 1
            continue
        ack = await js.publish(
            stage_subject(event["subject"]),
            orjson.dumps(event),
            headers={"Nats-Msg-Id": event["id"]},
        )
        report.raw_published += not ack.duplicate
        report.raw_already_stored += bool(ack.duplicate)
        report.last_seq = max(report.last_seq, ack.seq)


async def _wait_applied(nc: NATS, settings: Settings, last_seq: int) -> bool:
    """True once every projection has applied `last_seq` (read-your-writes on each)."""
    if last_seq == 0:
        return True
    deadline = time.monotonic() + CATCH_UP_MS / 1000
    for subject, extra in CATCH_UP_QUERIES:
        while True:  # one wait is at most MAX_WAIT_MS: ask again until the deadline
            remaining = max(0, int((deadline - time.monotonic()) * 1000))
            wait = min(remaining, MAX_WAIT_MS)
            request = {"min_seq": last_seq, "wait_ms": wait, **extra}
            try:
                reply = await nc.request(
                    subject, orjson.dumps(request), timeout=wait / 1000 + settings.request_timeout
                )
            except Exception:  # not answering is reported as "not caught up", not as a failure
                return False
            if "error" not in orjson.loads(reply.data):
                break
            if wait == remaining:
                return False
    return True
