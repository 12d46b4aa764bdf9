"""A bounded soak: events published while HTTP clients query, then checks that nothing broke.

    python -m benchmarks.soak                      # 200 000 events, 30 clients, 60 s
    python -m benchmarks.soak --quick              # 5 000 events, 5 clients, 5 s (the test)

It starts `rapport up` in a temporary directory on free loopback ports, publishes events as
other systems would (JetStream async publishes with Nats-Msg-Id) while `--clients` HTTP clients
query the gateway for `--seconds`, samples every service's RSS once a second, and at the end
waits for every projection's lag to return to zero. It prints one JSON object and exits 1
when a request failed (5xx or transport error), memory grew past `--max-growth-mb`, or the lag
did not return to zero within `--drain-seconds`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import nats
import orjson

from events.subjects import EVENTS_STREAM, event_subject, inbox_prefix
from services.config.roster import PROJECTIONS
from services.nats.broker import status_of
from services.nats.credentials import read_credential
from services.nats.embedded import die_with_parent, free_port

if TYPE_CHECKING:
    from nats.aio.client import Client as NatsClient


@dataclass
class Tally:
    """What the HTTP clients saw."""

    requests: int = 0
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def children(parent: int) -> dict[str, int]:
    """Service name -> pid of the processes `rapport up` started."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(") ", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
        except (FileNotFoundError, IndexError, ValueError):
            continue
        if ppid != parent:
            continue
        if b"service" in argv:
            found[argv[argv.index(b"service") + 1].decode()] = int(entry)
        elif argv and argv[0].endswith(b"nats-server"):
            found["nats-server"] = int(entry)
    return found


def envelopes(count: int, relationships: int, seed: int) -> list[bytes]:
    """A realistic mix of events (mostly interactions) as JSON, ids unique to this run."""
    rng = random.Random(seed)
    run = f"{seed}-{time.time_ns()}"
    start = time.time() - 365 * 86_400
    out = []
    for n in range(count):
        rel = f"soak-{rng.randrange(relationships)}"
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + rng.random() * 365 * 86_400))
        roll = rng.random()
        if roll < 0.75:
            event_type = "rapport.interaction.recorded"
            data: dict[str, Any] = {
                "kind": rng.choice(["meeting", "call", "email", "message"]),
                "direction": rng.choice(["inbound", "outbound", "mutual"]),
                "sentiment": round(rng.uniform(-1, 1), 2),
            }
        elif roll < 0.85:
            event_type = "rapport.connection.made"
            data = {"owner": f"owner-{rng.randrange(5)}", "counterpart": {"name": f"P{n}"}}
        elif roll < 0.95:
            event_type = "rapport.stage.changed"
            data = {"to": rng.choice(["awareness", "engagement", "conversion"]), "reason": "soak"}
        else:
            event_type = "rapport.purpose.set"
            data = {"purpose": "a joint program"}
        out.append(
            orjson.dumps(
                {
                    "specversion": "1.0",
                    "id": f"{run}-{n}",
                    "source": "soak",
                    "type": event_type,
                    "subject": rel,
                    "time": at,
                    "data": data,
                }
            )
        )
    return out


async def connect_as(nats_url: str, data_dir: Path, role: str) -> NatsClient:
    """Connect to the `rapport up` of `data_dir` as one of its roles."""
    credential = read_credential(data_dir, role)
    if credential is None:
        raise RuntimeError(f"no credentials for {role} under {data_dir}")
    return await nats.connect(
        nats_url,
        user=credential.user,
        password=credential.password,
        inbox_prefix=inbox_prefix(role),  # the only inbox the role may read
    )


async def publish(nats_url: str, data_dir: Path, bodies: list[bytes]) -> float:
    """Publish everything with async JetStream publishes as a producer; return the seconds."""
    nc = await connect_as(nats_url, data_dir, "producer")
    js = nc.jetstream(publish_async_max_pending=4000)
    started = time.perf_counter()
    for body in bodies:
        envelope = orjson.loads(body)
        await js.publish_async(
            event_subject(envelope["subject"], envelope["type"]),
            body,
            headers={"Nats-Msg-Id": envelope["id"]},
        )
    await asyncio.wait_for(js.publish_async_completed(), 120)
    seconds = time.perf_counter() - started
    await nc.close()
    return seconds


async def client(http_url: str, relationships: int, until: float, tally: Tally, seed: int) -> None:
    """One HTTP client asking a mix of the read routes until time runs out."""
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=http_url, timeout=10) as http:
        while time.monotonic() < until:
            rel = f"soak-{rng.randrange(relationships)}"
            path = rng.choice(
                [
                    f"/v1/relationships/{rel}",
                    f"/v1/relationships/{rel}/health",
                    "/v1/funnel",
                    "/v1/relationships?limit=20",
                    "/v1/proposals",
                ]
            )
            started = time.perf_counter()
            try:
                response = await http.get(path)
            except httpx.HTTPError as exc:
                tally.failures.append(f"{path}: {exc.__class__.__name__}")
                continue
            tally.latencies.append(time.perf_counter() - started)
            tally.requests += 1
            if response.status_code >= 500:
                tally.failures.append(f"{path}: {response.status_code} {response.text[:200]}")


async def lag(nats_url: str, data_dir: Path) -> dict[str, int]:
    """Stream last sequence minus what each projection has applied."""
    nc = await connect_as(nats_url, data_dir, "admin")
    try:
        last = (await nc.jetstream().stream_info(EVENTS_STREAM)).state.last_seq
        lags = {}
        for name in PROJECTIONS:
            status = await status_of(nc, name, within=2)
            lags[name] = last - int(status["applied_seq"]) if status else last
        return lags
    finally:
        await nc.close()


def start_rapport(workdir: Path, nats_port: int, http_port: int) -> subprocess.Popen[bytes]:
    """`rapport up` on these ports, its output in `workdir/up.log`."""
    with (workdir / "up.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "services", "up", "--nats-port", str(nats_port),
             "--http-port", str(http_port), "--data-dir", str(workdir / "data")],
            stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
            preexec_fn=die_with_parent,  # a killed soak leaves nothing running
        )  # fmt: skip


async def soak(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Run the soak against a fresh `rapport up`; return the figures."""
    nats_port, http_port = free_port(), free_port()
    nats_url, http_url = f"nats://127.0.0.1:{nats_port}", f"http://127.0.0.1:{http_port}"
    up = start_rapport(workdir, nats_port, http_port)
    try:
        deadline = time.monotonic() + 90
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    if (await http.get(f"{http_url}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if up.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"rapport up did not start; see {workdir / 'up.log'}")
                await asyncio.sleep(0.2)
        pids = children(up.pid)
        bodies = envelopes(args.events, args.relationships, args.seed)
        memory: dict[str, list[float]] = {name: [] for name in pids}
        tally = Tally()
        until = time.monotonic() + args.seconds

        async def sample() -> None:
            while time.monotonic() < until:
                for name, pid in pids.items():
                    memory[name].append(rss_mb(pid))
                await asyncio.sleep(1)

        clients = [
            client(http_url, args.relationships, until, tally, seed) for seed in range(args.clients)
        ]
        publishing = publish(nats_url, workdir / "data", bodies)
        publish_seconds, *_ = await asyncio.gather(publishing, sample(), *clients)
        drained_at = None
        drain_deadline = time.monotonic() + args.drain_seconds
        while time.monotonic() < drain_deadline:
            lags = await lag(nats_url, workdir / "data")
            if not any(lags.values()):
                drained_at = time.monotonic()
                break
            await asyncio.sleep(0.5)
        final_lag = await lag(nats_url, workdir / "data")
        growth = {
            name: round(max(samples[len(samples) // 4 :]) - samples[len(samples) // 4], 1)
            for name, samples in memory.items()
            if len(samples) >= 4
        }
        latencies = sorted(tally.latencies) or [0.0]
        return {
            "events": args.events,
            "publish_eps": round(args.events / publish_seconds),
            "clients": args.clients,
            "seconds": args.seconds,
            "requests": tally.requests,
            "failures": len(tally.failures),
            "failure_samples": tally.failures[:5],
            "http_p50_ms": round(statistics.median(latencies) * 1000, 2),
            "http_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 2),
            "rss_mb_peak": {n: round(max(s), 1) for n, s in memory.items() if s},
            "rss_growth_mb_after_warmup": growth,
            "lag_at_end": final_lag,
            "lag_zero": drained_at is not None,
        }
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            up.kill()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--relationships", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--drain-seconds", type=float, default=120)
    parser.add_argument("--max-growth-mb", type=float, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="5 000 events, 5 clients, 5 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.relationships, args.clients, args.seconds = 5000, 500, 5, 5
    return args


def passed(result: dict[str, Any], max_growth_mb: float) -> bool:
    """No failed request, memory flat, lag back to zero."""
    flat = all(g <= max_growth_mb for g in result["rss_growth_mb_after_warmup"].values())
    return result["failures"] == 0 and result["lag_zero"] and flat


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print its figures as JSON."""
    args = parse(argv)
    with tempfile.TemporaryDirectory(prefix="rapport-soak-") as workdir:
        result = asyncio.run(soak(args, Path(workdir)))
    result["passed"] = passed(result, args.max_growth_mb)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
