"""`rapport bench`: Rapport's speed against the raw NATS limit and the alternatives, in one run.

Phases, all on loopback, on the same seeded workload:
1. publish the events as other systems would (async JetStream publishes with Nats-Msg-Id,
   several publishers, each owning a share of the relationships so each one's order holds);
2. baselines on that stream: a raw pull consumer that only fetches and acks, an ordered
   consumer that only reads, the FastStream-per-message default, the eventsourcing peer;
3. each projector alone (its own `rapport service` process) catching up on the stream;
4. `rapport replay` of each projection;
5. end to end on a fresh server: the three projector services running while the events are
   published, until all three have caught up;
6. query latency over NATS and over HTTP (20 concurrent clients) against the filled stores;
7. the validated ingest (`rapport.ingest`, batches of 1 000, four clients) on a fresh server
   with the three projections running, with its identity check (the projections' index of
   event ids) and without it (JetStream's window alone): what identity costs;
and the peak RSS of every service and the size of every store.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import nats
import orjson

from benchmarks import pipeline, queries_at_scale
from benchmarks.soak import rss_mb
from benchmarks.workload import Workload, generate
from events.subjects import query_subject
from services.config.roster import PROJECTIONS
from services.nats.broker import status_of
from services.nats.embedded import EmbeddedNats, free_port
from services.nats.process import settle_memory
from services.nats.streams import ensure_streams

if TYPE_CHECKING:
    from collections.abc import Callable

    from nats.aio.client import Client as NATS


HTTP_RATE = 1000  # requests a second: the load the HTTP latency target is set at


@dataclass(frozen=True)
class Options:
    """What to run and how big."""

    events: int = 1_000_000
    relationships: int = 100_000
    seed: int = 1
    publishers: int = 4
    baseline_events: int = 20_000  # the slow baselines run on the first events of the stream
    ingest_events: int = 100_000  # sent through the validated ingest, with and without identity
    clients: int = 20
    query_seconds: float = 10.0
    workdir: Path | None = None
    indicative: bool = False  # a short run: warm-up dominates, its ratios only indicate

    @classmethod
    def quick(cls) -> Options:
        """A short run for CI."""
        return cls(
            events=20_000,
            relationships=2_000,
            baseline_events=2_000,
            ingest_events=10_000,
            query_seconds=2.0,
            indicative=True,
        )


class Service:
    """One `rapport service NAME` process, watched through its NATS ping."""

    def __init__(
        self,
        name: str,
        nats_url: str,
        data_dir: Path,
        http_port: int = 0,
        env: dict[str, str] | None = None,
    ) -> None:
        env = {
            **os.environ,
            "RAPPORT_NATS_URL": nats_url,
            "RAPPORT_DATA_DIR": str(data_dir),
            "RAPPORT_HTTP_PORT": str(http_port),
            "RAPPORT_LOG_LEVEL": "warning",
            **(env or {}),
        }
        self.name = name
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = (data_dir / f"{name}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services", "service", name],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.peak_rss = 0.0

    def sample(self) -> None:
        """Note the process's resident memory."""
        self.peak_rss = max(self.peak_rss, rss_mb(self.process.pid))

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


async def applied(nc: NATS, name: str) -> int:
    """A projection service's applied sequence (-1 when it does not answer yet)."""
    return int((await status_of(nc, name, within=1) or {}).get("applied_seq", -1))


async def wait_caught_up(
    nc: NATS, services: list[Service], target: int, within: float = 3600
) -> dict[str, tuple[float, float]]:
    """Poll until every service applied `target`; (first progress, caught up) per service."""
    first: dict[str, float] = {}
    done: dict[str, tuple[float, float]] = {}
    deadline = time.monotonic() + within
    while len(done) < len(services):
        if time.monotonic() > deadline:
            raise TimeoutError(f"projectors did not catch up to {target} in {within:.0f}s")
        for service in services:
            service.sample()
            if service.name in done:
                continue
            if service.process.poll() is not None:
                raise RuntimeError(f"service {service.name} exited; see its log")
            seq = await applied(nc, service.name)
            now = time.perf_counter()
            if seq > 0 and service.name not in first:
                first[service.name] = now
            if seq >= target:
                done[service.name] = (first.get(service.name, now), now)
        await asyncio.sleep(0.05)
    return done


async def publish(url: str, workload: Workload, publishers: int) -> float:
    """Publish everything with `publishers` connections; each keeps its relationships' order."""
    shares: list[list[tuple[str, bytes, str]]] = [[] for _ in range(publishers)]
    for subject, data, event_id in workload.events:
        shares[hash(subject.split(".")[2]) % publishers].append((subject, data, event_id))

    async def one(share: list[tuple[str, bytes, str]]) -> None:
        nc = await nats.connect(url)
        js = nc.jetstream(publish_async_max_pending=4000)
        for subject, data, event_id in share:
            await js.publish_async(subject, data, headers={"Nats-Msg-Id": event_id})
        await asyncio.wait_for(js.publish_async_completed(), 600)
        await nc.close()

    started = time.perf_counter()
    await asyncio.gather(*(one(share) for share in shares))
    return time.perf_counter() - started


async def start_server(root: Path) -> EmbeddedNats:
    """A JetStream server of the benchmark's own, with the contract's streams."""
    server = EmbeddedNats(root, port=free_port(), name=f"bench-{root.name}")
    await server.start()
    nc = await nats.connect(server.url)
    await ensure_streams(nc.jetstream())
    await nc.close()
    return server


async def latency(
    ask: Callable[[int], Any], clients: int, seconds: float
) -> tuple[float, float, int]:
    """p50 and p99 in ms of `ask` calls from `clients` concurrent clients for `seconds`."""
    samples: list[float] = []
    until = time.monotonic() + seconds

    async def client(number: int) -> None:
        turn = number
        while time.monotonic() < until:
            started = time.perf_counter()
            await ask(turn)
            samples.append(time.perf_counter() - started)
            turn += clients

    await asyncio.gather(*(client(n) for n in range(clients)))
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    return statistics.median(samples) * 1000, p99 * 1000, len(samples)


class KeepAlive:
    """A minimal HTTP/1.1 keep-alive client: the figure is the server's, not a client's.

    (httpx spends about a millisecond of CPU a request, on the same two cores as the server.)
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> KeepAlive:
        """A connection to the gateway on loopback."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def get(self, path: str) -> int:
        """GET `path`; the status code (the body is read and dropped)."""
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in lines
            if line.lower().startswith(b"content-length")
        )
        await self.reader.readexactly(length)
        return int(lines[0].split()[1])

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()


async def wait_for_http(port: int, within: float = 60) -> None:
    """Until the gateway answers /healthz."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        while True:
            try:
                # up and on NATS (it may say 503 for a service the benchmark does not run)
                if (await http.get("/healthz")).json()["nats"]["connected"]:
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            await asyncio.sleep(0.1)


def store_mb(data_dir: Path, name: str) -> float:
    """Size of a projection's store files (database and WAL)."""
    total = sum(path.stat().st_size for path in data_dir.glob(f"{name}*.db*"))
    return round(total / 1024 / 1024, 1)


async def run(options: Options, say: Callable[[str], None]) -> dict[str, Any]:
    """Every phase; the figures as one JSON-ready dict."""
    root = Path(tempfile.mkdtemp(prefix="rapport-bench-", dir=options.workdir))
    result: dict[str, Any] = {"events": options.events, "relationships": options.relationships}
    try:
        say(f"generating {options.events:,} events over {options.relationships:,} relationships")
        workload = generate(options.events, options.relationships, options.seed)
        settle_memory()  # the workload is long-lived: keep it out of the collector's way
        n = workload.size
        result["events"] = n

        server = await start_server(root / "nats-a")
        try:
            say("publishing")
            seconds = await publish(server.url, workload, options.publishers)
            result["publish_eps"] = round(n / seconds)
            result.update(await baselines(server.url, n, options, root, say))
            result.update(await projectors_alone(server.url, n, root, say))
            result.update(await replays(server.url, root, say))
        finally:
            server.stop()
        shares = pipeline.write_shares(workload, options.publishers, root / "shares")
        result.update(await raw_pipeline(n, shares, root, say))
        result.update(await end_to_end_and_queries(workload, shares, options, root, say))
        result.update(await ingest(workload, options, root, say))
        result["ratios"] = ratios(result)
        if options.indicative:
            result["ratios_note"] = (
                f"indicative only: {n:,} events is a short run where warm-up dominates the "
                "raw limits; run `rapport bench` without --quick for figures to compare"
            )
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def baselines(
    url: str, n: int, options: Options, root: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    """The raw limits on the whole stream; the slow alternatives on its first events."""
    from benchmarks.baseline_faststream import faststream_default
    from benchmarks.baseline_raw import raw_fetch_ack, raw_ordered

    say("baseline: raw pull consumer, fetch + ack")
    fetch_ack = await raw_fetch_ack(url, n)
    say("baseline: ordered consumer, read only")
    ordered = await raw_ordered(url, n)
    sample = min(n, options.baseline_events)
    say(f"baseline: FastStream per-message default on {sample:,} events")
    default = await faststream_default(url, sample, root / "faststream")
    figures: dict[str, Any] = {
        "raw_fetch_ack_eps": round(fetch_ack.eps),
        "raw_ordered_eps": round(ordered.eps),
        "faststream_default_eps": round(default.eps),
        "baseline_sample_events": sample,
    }
    try:
        from benchmarks.baseline_eventsourcing import eventsourcing_peer
    except ImportError:  # the peer's library comes with the test extra
        say(
            "baseline: eventsourcing peer skipped: its library is not installed "
            "(pip install -e '.[test]' brings it)"
        )
        figures["eventsourcing_eps"] = None
        figures["skipped"] = ["eventsourcing peer: pip install -e '.[test]' brings its library"]
        return figures
    say(f"baseline: eventsourcing peer on {sample:,} events")
    peer = await eventsourcing_peer(url, sample, root / "eventsourcing")
    figures["eventsourcing_eps"] = round(peer.eps)
    return figures


async def projectors_alone(
    url: str, n: int, root: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    """Each projector service alone, catching up on the whole stream."""
    eps: dict[str, int] = {}
    rss: dict[str, float] = {}
    nc = await nats.connect(url)
    try:
        for name in PROJECTIONS:
            say(f"projector {name} catching up alone")
            service = Service(name, url, root / "alone")
            try:
                [(first, done)] = (await wait_caught_up(nc, [service], n)).values()
            finally:
                service.stop()
            eps[name] = round(n / (done - first)) if done > first else 0
            rss[name] = round(service.peak_rss, 1)
    finally:
        await nc.close()
    return {"projector_eps": eps, "rss_mb_alone": rss}


async def replays(url: str, root: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """`rapport replay` of each projection (nothing running: the offline swap)."""
    figures: dict[str, int] = {}
    for name in PROJECTIONS:
        say(f"replay {name}")
        done = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services", "replay", name, "--json",
            "--nats-url", url, "--data-dir", str(root / "alone"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = await done.communicate()
        if done.returncode != 0:
            raise RuntimeError(f"replay {name} failed: {err.decode()[-500:]}")
        report = json.loads(out[out.index(b"{") :])
        figures[name] = int(report[name]["eps"])
    say("replay all: the three at once, each in its own process")
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services", "replay", "all", "--json",
        "--nats-url", url, "--data-dir", str(root / "all"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await done.communicate()
    if done.returncode != 0:
        raise RuntimeError(f"replay all failed: {err.decode()[-500:]}")
    every = json.loads(out[out.index(b"{") :])["all"]
    return {"replay_eps": figures, "replay_all_eps": int(every["eps"])}


async def raw_pipeline(
    n: int, shares: list[Path], root: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    """Fresh server; the publisher processes while three raw consumer processes read it all."""
    server = await start_server(root / "nats-c")
    names = [f"raw-{name}" for name in PROJECTIONS]
    readers = pipeline.consumers(server.url, n, names)
    writers = pipeline.publishers(server.url, shares)
    say(f"baseline: raw pipeline, {len(shares)} publishers and {len(names)} raw consumers")
    try:
        await readers.ready()
        await writers.ready()
        started = min(readers.go(), writers.go())
        finished = max(report["done"] for report in await readers.done())
        await writers.done()
    finally:
        readers.stop()
        writers.stop()
        server.stop()
    return {"raw_pipeline_eps": round(n / (finished - started))}


async def end_to_end_and_queries(
    workload: Workload,
    shares: list[Path],
    options: Options,
    root: Path,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Fresh server; three projectors running while the events are published; then queries."""
    server = await start_server(root / "nats-b")
    data = root / "e2e"
    http_port = free_port()
    services = [Service(name, server.url, data) for name in PROJECTIONS]
    nc = await nats.connect(server.url)
    figures: dict[str, Any] = {}
    try:
        for service in services:  # ready before the first event
            while await applied(nc, service.name) < 0:
                if service.process.poll() is not None:
                    raise RuntimeError(f"service {service.name} exited")
                await asyncio.sleep(0.05)
        say(f"end to end: {options.publishers} publisher processes while the projectors run")
        crew = pipeline.publishers(server.url, shares)
        try:
            await crew.ready()
            started = time.perf_counter()
            crew.go()
            caught = await wait_caught_up(nc, services, workload.size)
            await crew.done()
        finally:
            crew.stop()
        finished = max(done for _, done in caught.values())
        figures["e2e_eps"] = round(workload.size / (finished - started))
        gateway = Service("gateway", server.url, data, http_port)
        services.append(gateway)
        # what the build left to compute (bands, ceilings) is done once, in the background:
        # say how long that took, then measure the queries as they are from then on
        figures["upkeep_s"] = await queries_at_scale.kept(nc)
        say("query latency over NATS and HTTP")
        figures["query_ms"] = await queries(nc, workload, http_port, options)
        figures.update(await queries_at_scale.measured(nc, workload.relationships, options))
        say("HTTP and dashboard from outside (wrk, hey)")
        figures.update(await from_outside(workload, http_port, options, say))
        for service in services:
            service.sample()
        figures["rss_mb"] = {s.name: round(s.peak_rss, 1) for s in services}
        figures["store_mb"] = {name: store_mb(data, name) for name in PROJECTIONS}
    finally:
        await nc.close()
        for service in services:
            service.stop()
        server.stop()
    return figures


async def from_outside(
    workload: Workload, http_port: int, options: Options, say: Callable[[str], None]
) -> dict[str, Any]:
    """The HTTP API and the dashboard measured by compiled load generators (`wrk`, `hey`)."""
    from benchmarks import http_load

    base = f"http://127.0.0.1:{http_port}"
    rng = random.Random(options.seed + 1)
    ids = [f"r{rng.randrange(workload.relationships)}" for _ in range(1000)]
    seconds = max(2.0, options.query_seconds)
    try:
        busiest = await http_load.saturation(
            base, [f"/v1/relationships/{rel}" for rel in ids], seconds
        )
        steady = await http_load.at_rate(f"{base}/v1/relationships/{ids[0]}", HTTP_RATE, seconds)
        spread = await http_load.spread(f"{base}/v1/relationships/{ids[0]}", HTTP_RATE, seconds)
        overview = await http_load.pages(f"{base}/", seconds)
        page = await http_load.pages(f"{base}/relationships/{ids[1]}", seconds)
    except http_load.NoLoadGenerator as exc:
        say(f"HTTP from outside skipped: {exc}")
        return {"http": None, "dashboard": None, "skipped_http": str(exc)}
    return {
        "http": {
            "route": "GET /v1/relationships/{id}",
            "rps": busiest.rps,  # saturated: wrk, 20 connections, random ids
            "p50_ms": steady.p50_ms,  # at HTTP_RATE requests a second (hey)
            "p99_ms": steady.p99_ms,
            "at_rps": HTTP_RATE,
            "saturated_p50_ms": busiest.p50_ms,
            "saturated_p99_ms": busiest.p99_ms,
            # the same rate with arrivals spread out (wrk, random waits), not hey's bursts
            "spread_rps": spread.rps,
            "spread_p50_ms": spread.p50_ms,
            "spread_p99_ms": spread.p99_ms,
            "errors": busiest.errors + steady.errors + spread.errors,
        },
        "dashboard": {
            "overview_p50_ms": overview.p50_ms,
            "overview_p99_ms": overview.p99_ms,
            "relationship_p50_ms": page.p50_ms,
            "relationship_p99_ms": page.p99_ms,
            "errors": overview.errors + page.errors,
        },
    }


async def queries(
    nc: NATS, workload: Workload, http_port: int, options: Options
) -> dict[str, float]:
    """p50/p99 of stage.get and health.get over NATS (1 and 20 clients) and over HTTP (20)."""
    rng = random.Random(options.seed)
    ids = [f"r{rng.randrange(workload.relationships)}" for _ in range(4096)]
    subjects = (query_subject("stage", "get"), query_subject("health", "get"))

    async def over_nats(turn: int) -> None:
        body = orjson.dumps({"relationship_id": ids[turn % len(ids)]})
        await nc.request(subjects[turn % 2], body, timeout=5)

    # one client: the latency of a query; 20: under load
    nats_p50, nats_p99, nats_count = await latency(over_nats, 1, options.query_seconds)
    busy_p50, busy_p99, _ = await latency(over_nats, options.clients, options.query_seconds)
    await wait_for_http(http_port)
    connections = [await KeepAlive.open(http_port) for _ in range(options.clients)]

    async def over_http(turn: int) -> None:
        rel = ids[turn % len(ids)]
        path = f"/v1/relationships/{rel}" + ("/health" if turn % 2 else "")
        status = await connections[turn % options.clients].get(path)
        if status >= 500:
            raise RuntimeError(f"{path}: {status}")

    try:
        http_p50, http_p99, http_count = await latency(
            over_http, options.clients, options.query_seconds
        )
    finally:
        for connection in connections:
            connection.close()
    return {
        "nats_p50": round(nats_p50, 2),
        "nats_p99": round(nats_p99, 2),
        f"nats_{options.clients}_clients_p50": round(busy_p50, 2),
        f"nats_{options.clients}_clients_p99": round(busy_p99, 2),
        "http_p50": round(http_p50, 2),
        "http_p99": round(http_p99, 2),
        "nats_requests": nats_count,
        "http_requests": http_count,
    }


async def ingest(
    workload: Workload, options: Options, root: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    """The validated ingest's throughput, with the index of event ids and without it."""
    count = min(workload.size, options.ingest_events)
    envelopes = [data for _, data, _ in workload.events[:count]]
    figures: dict[str, Any] = {"ingest_events": count}
    for identity in (True, False):
        label = "with" if identity else "without"
        say(f"validated ingest of {count:,} events, {label} the index of event ids")
        server = await start_server(root / f"nats-ingest-{label}")
        data = root / f"ingest-{label}"
        projections = [Service(name, server.url, data) for name in PROJECTIONS]
        service = Service(
            "ingest", server.url, data, env={"RAPPORT_INGEST_IDENTITY": str(identity).lower()}
        )
        nc = await nats.connect(server.url)
        try:
            for name in (*PROJECTIONS, "ingest"):
                while not await _answers(nc, name):
                    if any(s.process.poll() is not None for s in (*projections, service)):
                        raise RuntimeError(f"a service exited while starting; see {data}")
                    await asyncio.sleep(0.05)
            seconds = await _send_batches(nc, envelopes, options.publishers)
            service.sample()
        finally:
            await nc.close()
            for running in (service, *projections):
                running.stop()
            server.stop()
        figures[f"ingest_eps_{label}_identity"] = round(count / seconds)
        figures.setdefault("rss_mb", {})[f"ingest_{label}_identity"] = round(service.peak_rss, 1)
    return {
        "ingest_eps": figures["ingest_eps_with_identity"],
        "ingest_eps_window_only": figures["ingest_eps_without_identity"],
        "ingest_events": count,
        "rss_mb_ingest": figures["rss_mb"]["ingest_with_identity"],
    }


async def _answers(nc: NATS, name: str) -> bool:
    return await status_of(nc, name, within=1) is not None


async def _send_batches(nc: NATS, envelopes: list[bytes], clients: int) -> float:
    """Send everything to `rapport.ingest` in batches of 1 000 from `clients` requesters."""
    batches = [envelopes[i : i + 1000] for i in range(0, len(envelopes), 1000)]
    queue: asyncio.Queue[list[bytes]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def requester() -> None:
        while not queue.empty():
            batch = queue.get_nowait()
            reply = orjson.loads(
                (
                    await nc.request("rapport.ingest", b"[" + b",".join(batch) + b"]", timeout=60)
                ).data
            )
            if "error" in reply:
                raise RuntimeError(f"the ingest refused a batch: {reply['error']}")

    started = time.perf_counter()
    await asyncio.gather(*(requester() for _ in range(clients)))
    return time.perf_counter() - started


def ratios(result: dict[str, Any]) -> dict[str, float | None]:
    """The figures the issue sets targets for, as ratios within this one run."""
    live = min(result["projector_eps"].values())
    replay = min(result["replay_eps"].values())

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a and b else None

    return {
        "e2e_vs_raw_pipeline": ratio(result.get("e2e_eps"), result.get("raw_pipeline_eps")),
        "live_vs_raw": ratio(live, result["raw_fetch_ack_eps"]),
        "replay_vs_ordered": ratio(replay, result["raw_ordered_eps"]),
        "replay_all_vs_ordered": ratio(result.get("replay_all_eps"), result["raw_ordered_eps"]),
        "vs_faststream_default": ratio(
            result["projector_eps"]["stage"], result["faststream_default_eps"]
        ),
        "vs_eventsourcing": ratio(
            min(result["projector_eps"]["stage"], result["projector_eps"]["health"]),
            result.get("eventsourcing_eps"),
        ),
        # the index of event ids against JetStream's window alone: 1.0 means it costs nothing
        "ingest_identity_vs_window_only": ratio(
            result.get("ingest_eps"), result.get("ingest_eps_window_only")
        ),
    }
