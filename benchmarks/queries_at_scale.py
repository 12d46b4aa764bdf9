"""The query side at scale: the dashboard's pages, `health.summary` and search, on filled stores.

`search_latency` is what `rapport bench` reports as `search`; run as a module it fills a fresh
server with the bench's workload (default 300 000 events over 100 000 relationships) plus one
relationship of `--long` events, runs the projectors and the gateway as `rapport service`
processes until they have caught up, then measures from outside (`hey`) the overview, a
relationship page and the long relationship's page, and over NATS `health.summary` and
`stage.list q=` (search):

    python -m benchmarks.queries_at_scale [--relationships N] [--events N] [--long N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nats
import orjson

from benchmarks.workload import START, YEAR, Workload, generate
from events.subjects import query_subject
from services.nats.broker import status_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from nats.aio.client import Client as NATS

    from benchmarks.bench import Options

LONG_ID = "long-1"
SEARCH = query_subject("stage", "list")
SUMMARY = query_subject("health", "summary")
UPKEPT = ("health", "proposals")  # the services whose stores have upkeep after a build


def long_relationship(events: int, seed: int = 7) -> list[tuple[str, bytes, str]]:
    """One relationship with `events` events over the bench's year: mostly interactions."""
    rng = random.Random(seed)
    moments = sorted(START + rng.random() * YEAR for _ in range(events))
    out = []
    stages = ("awareness", "engagement", "conversion", "partnership")
    for number, moment in enumerate(moments):
        if number == 0:
            kind = "connection.made"
            data: dict[str, object] = {
                "owner": "owner-1@example.com",
                "counterpart": {"name": "Long Standing", "kind": "person"},
            }
        elif number % 2000 == 0 and number // 2000 <= len(stages):
            kind, data = "stage.changed", {"to": stages[number // 2000 - 1]}
        else:
            kind = "interaction.recorded"
            data = {
                "kind": rng.choice(("meeting", "call", "email", "message")),
                "direction": rng.choice(("inbound", "outbound", "mutual")),
                "sentiment": round(rng.uniform(-0.6, 1.0), 2),
            }
        event_id = f"long-{seed}-{number}"
        envelope = {
            "specversion": "1.0",
            "id": event_id,
            "source": "bench",
            "type": f"rapport.{kind}",
            "subject": LONG_ID,
            "time": datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": data,
        }
        out.append((f"rapport.ev.{LONG_ID}.{kind}", orjson.dumps(envelope), event_id))
    return out


async def timed(ask: Callable[[int], Any], seconds: float, at_least: int = 20) -> dict[str, Any]:
    """p50 and p99 (ms) of `ask` called one at a time for `seconds` (at least `at_least`)."""
    samples: list[float] = []
    until = time.monotonic() + seconds
    turn = 0
    while turn < at_least or (time.monotonic() < until and turn < 100_000):
        started = time.perf_counter()
        await ask(turn)
        samples.append((time.perf_counter() - started) * 1000)
        turn += 1
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    return {"p50_ms": round(statistics.median(samples), 2), "p99_ms": round(p99, 2)}


async def search_latency(
    nc: NATS, relationships: int, seconds: float, seed: int = 3
) -> dict[str, Any]:
    """`stage.list q=` over NATS, one client, for words found in the bench's names."""
    rng = random.Random(seed)
    words = [f"r{rng.randrange(relationships)}" for _ in range(200)]
    failures = 0

    async def ask(turn: int) -> None:
        nonlocal failures
        body = orjson.dumps({"q": words[turn % len(words)], "limit": 20})
        reply = orjson.loads((await nc.request(SEARCH, body, timeout=10)).data)
        failures += "error" in reply

    try:
        figures = await timed(ask, seconds)
    except TimeoutError:
        return {"error": "a search was not answered within 10 s"}
    return {**figures, "errors": failures}


async def summary_latency(nc: NATS, seconds: float, at_least: int = 5) -> dict[str, Any]:
    """`health.summary` over NATS, one client (every owner, then owner by owner)."""
    failures = 0

    async def ask(turn: int) -> None:
        nonlocal failures
        owner = None if turn % 2 == 0 else f"owner-{turn % 20}@example.com"
        reply = await nc.request(SUMMARY, orjson.dumps({"owner": owner}), timeout=60)
        failures += "error" in orjson.loads(reply.data)

    try:
        figures = await timed(ask, seconds, at_least=at_least)
    except TimeoutError:
        return {"error": "a summary was not answered within 60 s"}
    return {**figures, "errors": failures}


async def kept(nc: NATS, names: tuple[str, ...] = UPKEPT, within: float = 900) -> float | None:
    """Seconds until these services' stores have done their upkeep since this call (the
    health bands and proposal ceilings the build left to compute); None past `within`."""
    since = time.time()
    started = time.perf_counter()
    deadline = time.monotonic() + within
    waiting = set(names)
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            at = (await status_of(nc, name, within=2) or {}).get("kept_at")
            if at is not None and at >= since:
                waiting.discard(name)
        if waiting:
            await asyncio.sleep(0.2)
    return None if waiting else round(time.perf_counter() - started, 2)


async def measured(nc: NATS, relationships: int, options: Options) -> dict[str, Any]:
    """What `rapport bench` reports of the query side: `search` and `health_summary`."""
    seconds = max(1.0, options.query_seconds / 2)
    return {
        "search": await search_latency(nc, relationships, seconds),
        "health_summary": await summary_latency(nc, seconds),
    }


async def measure(
    relationships: int, events: int, long: int, seconds: float, workdir: Path | None
) -> dict[str, Any]:
    """Fill a fresh server, run the services until caught up, then measure every query."""
    from benchmarks import http_load
    from benchmarks.bench import Service, publish, start_server, wait_caught_up, wait_for_http
    from services.config.roster import PROJECTIONS
    from services.nats.embedded import free_port

    root = Path(tempfile.mkdtemp(prefix="rapport-queries-", dir=workdir))
    workload = generate(events, relationships)
    workload = Workload([*workload.events, *long_relationship(long)], relationships + 1)
    server = await start_server(root / "nats")
    services: list[Service] = []
    nc = await nats.connect(server.url)
    result: dict[str, Any] = {"relationships": relationships + 1, "events": workload.size}
    try:
        await publish(server.url, workload, 4)
        data = root / "data"
        services = [Service(name, server.url, data) for name in PROJECTIONS]
        started = time.perf_counter()
        await wait_caught_up(nc, services, workload.size)
        result["caught_up_s"] = round(time.perf_counter() - started, 1)
        port = free_port()
        services.append(Service("gateway", server.url, data, port))
        await wait_for_http(port)
        base = f"http://127.0.0.1:{port}"
        # the first summary after the projections were built (the bands are scored then)
        started = time.perf_counter()
        first = await summary_latency(nc, 0, at_least=1)
        result["health_summary_first_s"] = first.get("error") or round(
            time.perf_counter() - started, 2
        )
        result["upkeep_s"] = await kept(nc)
        # the overview last: queries it leaves unanswered (past the gateway's timeout) still
        # cost their service, and would be measured again in the pages after it
        pages = {
            "relationship": f"/relationships/r{relationships // 2}",
            "long_relationship": f"/relationships/{LONG_ID}",
        }
        board: dict[str, Any] = {}
        for name, path in pages.items():
            try:
                load = await http_load.pages(base + path, seconds)
            except RuntimeError as exc:  # e.g. no page answered within the time
                board[f"{name}_error"] = str(exc)[:200]
                continue
            board.update({f"{name}_p50_ms": load.p50_ms, f"{name}_p99_ms": load.p99_ms})
            board[f"{name}_errors"] = load.errors
        result["health_summary"] = await summary_latency(nc, seconds)
        result["search"] = await search_latency(nc, relationships, seconds)
        print(json.dumps(result), file=sys.stderr)  # what is known so far
        try:
            load = await http_load.pages(f"{base}/", seconds)
            board.update(overview_p50_ms=load.p50_ms, overview_p99_ms=load.p99_ms)
            board["overview_errors"] = load.errors
        except RuntimeError as exc:
            board["overview_error"] = str(exc)[:200]
        result["dashboard"] = board
    finally:
        await nc.close()
        for service in services:
            service.stop()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return result


async def summary_in_store(
    relationships: int, seconds: float, workdir: Path | None
) -> dict[str, Any]:
    """`health.summary`'s work on a store of `relationships` rows, in process: the first
    re-scoring of every row (after a rebuild), then the kept counts (p50/p99 of the handler's
    store calls; over NATS add ~0.5 ms)."""
    from dataclasses import replace

    from events import parse_event
    from projections.health.fold import apply
    from projections.health.store import HealthStore

    templates: dict[str, Any] = {}
    for _, data, _ in generate(30_000, 3_000).events:
        parsed = parse_event(data)
        templates[parsed.subject] = apply(templates.get(parsed.subject), parsed)
    shapes = list(templates.values())
    root = Path(tempfile.mkdtemp(prefix="rapport-summary-", dir=workdir))
    store = HealthStore(root / "health.db")
    await store.open()
    try:
        chunk: dict[str, Any] = {}
        for number in range(relationships):
            rel = f"s{number}"
            chunk[rel] = (None, replace(shapes[number % len(shapes)], relationship_id=rel))
            if len(chunk) == 20_000 or number == relationships - 1:
                await store.commit(chunk, number + 1, [])
                chunk = {}
        now = time.time()
        started = time.perf_counter()
        await store.refresh_bands(now)
        first_s = time.perf_counter() - started

        async def ask(turn: int) -> None:
            moment = await store.refresh_bands(time.time())
            owner = None if turn % 2 == 0 else f"owner-{turn % 20}@example.com"
            await store.band_counts(moment, owner)

        figures = await timed(ask, seconds)
    finally:
        await store.close()
        shutil.rmtree(root, ignore_errors=True)
    return {
        "rows": relationships,
        "first_refresh_s": round(first_s, 2),
        **figures,
    }


def main() -> None:
    """Parse the options, measure, print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relationships", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--long", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--summary-rows", type=int, default=0, help="only health.summary's work on a store of N"
    )
    args = parser.parse_args()
    if args.summary_rows:
        figures = asyncio.run(summary_in_store(args.summary_rows, args.seconds, args.workdir))
        print(json.dumps(figures, indent=2))
        return
    result = asyncio.run(
        measure(args.relationships, args.events, args.long, args.seconds, args.workdir)
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
