"""HTTP load from outside the Python process: `wrk` and `hey`, the compiled generators of Debian.

A Python client in the same process measures itself (its own event loop and GC): the figures
of the HTTP API come from these instead.

- `saturation(base, paths, seconds)`: `wrk` with 20 connections over many paths (a Lua script
  picks one at random per request): the requests a second the gateway can serve, and latency.
- `at_rate(url, rate, seconds)`: `hey` sending `rate` requests a second (20 workers, each held
  to rate/20): latency at a fixed load, the figure the issue sets a target for. hey's workers
  tick together: the requests come in bursts of 20 every 20 ms, each burst queued at once.
- `spread(url, rate, seconds)`: about `rate` requests a second from `wrk`'s 20 connections,
  each waiting a random (exponential) time between its requests, as many independent clients
  do: the same load with its arrivals spread out instead of in bursts.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

WORKERS = 20


class NoLoadGenerator(RuntimeError):
    """`wrk` or `hey` is not installed."""


@dataclass(frozen=True)
class Load:
    """What one load run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise NoLoadGenerator(f"{name} is not installed (Debian: apt install hey wrk)")
    return found


async def _run(*command: str, within: float) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), within)
    text = out.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({process.returncode}): {text[-500:]}")
    return text


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(text: str) -> Load:
    """The figures of `wrk --latency` output."""
    percent = {
        key: _ms(number, unit)
        for key, number, unit in re.findall(
            r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE
        )
    }

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket = [int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text)]
    if rps is None or total is None or set(percent) != {"50", "99"}:
        raise RuntimeError(f"wrk said something unexpected: {text[-500:]}")
    return Load(
        rps=round(float(rps.group(1)), 1),
        p50_ms=round(percent["50"], 2),
        p99_ms=round(percent["99"], 2),
        requests=int(total.group(1)),
        errors=(int(errors.group(1)) if errors else 0) + sum(socket),
    )


def parse_hey(text: str) -> Load:
    """The figures of `hey -o csv` output: one row per response (its own summary rounds the
    percentiles of few samples to 0)."""
    rows = [line.split(",") for line in text.splitlines()[1:] if line.count(",") == 7]
    if not rows:
        raise RuntimeError(f"hey answered no request: {text[-500:]}")
    latencies = sorted(float(row[0]) * 1000 for row in rows)
    span = max(float(row[7]) + float(row[0]) for row in rows)
    return Load(
        rps=round(len(rows) / span, 1) if span else 0.0,
        p50_ms=round(percentile(latencies, 0.50), 2),
        p99_ms=round(percentile(latencies, 0.99), 2),
        requests=len(rows),
        errors=sum(1 for row in rows if int(row[6]) >= 400),
    )


def percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted samples."""
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def spread(url: str, rate: int, seconds: float) -> Load:
    """About `rate` requests a second, each connection waiting an exponential time (mean
    `WORKERS / rate`) before its next request (`wrk`, 20 connections)."""
    mean_ms = 1000 * WORKERS / rate
    return await _wrk(
        url,
        seconds,
        "delay = function()\n"
        f"  return math.floor(0.5 - math.log(1 - math.random()) * {mean_ms:g})\n"
        "end\n",
    )


async def saturation(base: str, paths: list[str], seconds: float) -> Load:
    """As many requests as the gateway takes, over `paths` at random (`wrk`, 20 connections)."""
    listed = ",".join(f'"{path}"' for path in paths)
    return await _wrk(
        base,
        seconds,
        f"local paths = {{{listed}}}\n"
        "request = function()\n"
        '  return wrk.format("GET", paths[math.random(#paths)])\n'
        "end\n",
    )


async def _wrk(url: str, seconds: float, script: str) -> Load:
    """`wrk --latency` with 20 connections for `seconds`, driven by a Lua `script`."""
    wrk = _tool("wrk")
    with tempfile.TemporaryDirectory(prefix="rapport-wrk-") as folder:
        path = Path(folder) / "load.lua"
        path.write_text(script)
        text = await _run(
            wrk, "-t", "2", "-c", str(WORKERS), "-d", f"{seconds:g}s", "--latency",
            "-s", str(path), url,
            within=seconds + 60,
        )  # fmt: skip
    return parse_wrk(text)


async def at_rate(url: str, rate: int, seconds: float) -> Load:
    """`rate` requests a second to one URL for `seconds` (`hey`, 20 workers)."""
    hey = _tool("hey")
    per_worker = max(1, rate // WORKERS)
    text = await _run(
        hey, "-z", f"{seconds:g}s", "-c", str(WORKERS), "-q", str(per_worker), "-o", "csv", url,
        within=seconds + 60,
    )  # fmt: skip
    return parse_hey(text)


async def pages(url: str, seconds: float, workers: int = 4) -> Load:
    """One page asked by a few workers for `seconds` (`hey`): the page's own latency."""
    hey = _tool("hey")
    text = await _run(
        hey, "-z", f"{seconds:g}s", "-c", str(workers), "-o", "csv", url, within=seconds + 120
    )
    return parse_hey(text)
