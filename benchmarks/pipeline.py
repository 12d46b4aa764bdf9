"""Processes for the end-to-end figures: publishers, and raw consumers to compare Rapport with.

End to end is measured with the load other systems would put on it: several publisher
*processes* (not coroutines of the benchmark), each owning a share of the relationships so
each one's order holds. The "raw pipeline" baseline runs the same publishers while three raw
consumer processes fetch everything and acknowledge each batch once (AckPolicy.ALL, like the
projectors) and do nothing else; Rapport's three projectors against it say what Rapport's own
work costs.

Every process loads its input, prints `{"ready": true}`, waits for a line on stdin (the go),
works, and prints `{"done": <wall-clock seconds>, ...}`: the parent times from its go to the
last `done`.

    python -m benchmarks.pipeline publish URL SHARE_FILE
    python -m benchmarks.pipeline consume URL COUNT NAME
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nats
import orjson
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from events.subjects import EVENTS_FILTER, EVENTS_STREAM

if TYPE_CHECKING:
    from nats.aio.msg import Msg

    from benchmarks.workload import Workload

BATCH = 1000


def write_shares(workload: Workload, publishers: int, folder: Path) -> list[Path]:
    """Split the workload by relationship into one file per publisher (JSON lines)."""
    shares: list[list[bytes]] = [[] for _ in range(publishers)]
    for subject, data, event_id in workload.events:
        line = orjson.dumps([subject, event_id, data.decode()])
        shares[hash(subject.split(".")[2]) % publishers].append(line)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, lines in enumerate(shares):
        path = folder / f"share-{number}.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        paths.append(path)
    return paths


class Crew:
    """Child processes started together: ready, then go at once, then each one's `done`."""

    def __init__(self, commands: list[list[str]]) -> None:
        self.processes = [
            subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for command in commands
        ]

    async def ready(self, within: float = 600) -> None:
        """Wait until every process has loaded its input."""
        for process in self.processes:
            said = await asyncio.wait_for(asyncio.to_thread(_line, process), within)
            if not said.get("ready"):
                raise RuntimeError(f"a pipeline process did not start: {said}")

    def go(self) -> float:
        """Start them all; the wall-clock instant."""
        started = time.time()
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        return started

    async def done(self, within: float = 3600) -> list[dict[str, Any]]:
        """Each process's last word (its `done` instant and figures)."""
        reports = []
        for process in self.processes:
            said = await asyncio.wait_for(asyncio.to_thread(_line, process), within)
            if "done" not in said:
                raise RuntimeError(f"a pipeline process failed: {said}")
            reports.append(said)
        return reports

    def stop(self) -> None:
        """Make sure none is left running."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def _line(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        return {"error": f"exited with {process.wait()}"}
    said: dict[str, Any] = orjson.loads(line)
    return said


def publishers(url: str, shares: list[Path]) -> Crew:
    """One publisher process per share file."""
    module = [sys.executable, "-m", "benchmarks.pipeline"]
    return Crew([[*module, "publish", url, str(path)] for path in shares])


def consumers(url: str, count: int, names: list[str]) -> Crew:
    """One raw consumer process per name, each reading `count` events."""
    module = [sys.executable, "-m", "benchmarks.pipeline"]
    return Crew([[*module, "consume", url, str(count), name] for name in names])


# -- in the child processes ----------------------------------------------------------------------


def _say(**what: Any) -> None:
    sys.stdout.write(orjson.dumps(what).decode() + "\n")
    sys.stdout.flush()


async def _publish(url: str, payloads: list[tuple[str, str, bytes]]) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream(publish_async_max_pending=4000)
    _say(ready=True)
    await asyncio.to_thread(sys.stdin.readline)
    for subject, event_id, data in payloads:
        await js.publish_async(subject, data, headers={"Nats-Msg-Id": event_id})
    await asyncio.wait_for(js.publish_async_completed(), 3600)
    _say(done=time.time(), published=len(payloads))
    await nc.close()


async def _consume(url: str, count: int, name: str) -> None:
    """Fetch `count` events as they arrive, acknowledging each batch once (AckPolicy.ALL)."""
    nc = await nats.connect(url, pending_size=64 * 1024 * 1024)
    js = nc.jetstream()
    await js.add_consumer(
        EVENTS_STREAM,
        ConsumerConfig(
            durable_name=name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.ALL,
            ack_wait=120,
            max_ack_pending=4 * BATCH,
            max_waiting=16,
            filter_subject=EVENTS_FILTER,
        ),
    )
    inbox = nc.new_inbox()
    requests: deque[int] = deque()
    received = 0
    batch_left = 0
    done = asyncio.Event()
    subject = f"$JS.API.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.{name}"

    async def ask() -> None:
        while len(requests) < 2:
            requests.append(BATCH)
            body = {"batch": BATCH, "expires": int(1e9), "idle_heartbeat": int(0.5e9)}
            await nc.publish(subject, orjson.dumps(body), reply=inbox)

    async def on_message(msg: Msg) -> None:
        nonlocal received, batch_left
        status = msg.headers.get("Status") if msg.headers else None
        if status is not None:
            if status in ("404", "408", "409") and requests:
                requests.popleft()
                await ask()
            return
        received += 1
        batch_left += 1
        if requests:
            requests[0] -= 1
            if requests[0] <= 0:
                requests.popleft()
        if batch_left >= BATCH or received >= count:
            await nc.publish(msg.reply, b"+ACK")  # the whole batch at once
            batch_left = 0
        if received >= count:
            done.set()
        else:
            await ask()

    await nc.subscribe(inbox, cb=on_message, pending_msgs_limit=8 * BATCH)
    _say(ready=True)
    await asyncio.to_thread(sys.stdin.readline)
    await ask()
    await asyncio.wait_for(done.wait(), 3600)
    await nc.flush()
    _say(done=time.time(), received=received)
    with contextlib.suppress(Exception):
        await js.delete_consumer(EVENTS_STREAM, name)
    await nc.close()


def main(argv: list[str]) -> None:
    """The child processes' entry."""
    if argv[:1] == ["publish"] and len(argv) == 3:
        lines = Path(argv[2]).read_bytes().splitlines()
        events = [orjson.loads(line) for line in lines if line]
        asyncio.run(_publish(argv[1], [(s, i, data.encode()) for s, i, data in events]))
    elif argv[:1] == ["consume"] and len(argv) == 4:
        asyncio.run(_consume(argv[1], int(argv[2]), argv[3]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
