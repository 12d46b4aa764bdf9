"""`rapport up` heals by itself: kill -9 of the NATS server and of every service, under load.

Events go in as another system sends them (`rapport.ingest`, producer credentials, each batch
resent with the same ids until accepted) while the processes are killed one by one. Each comes
back without anyone's help, with a line in the log; at the end no acknowledged event is lost,
none is stored twice, and every projection equals a clean rebuild from the log.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import nats
import orjson
from pydantic import SecretStr

from events.subjects import EVENTS_STREAM
from services.config.settings import Settings
from services.nats.broker import status_of
from services.nats.credentials import read_credential
from services.projection.registry import SPECS
from tests.e2e.helpers import alive, rapport_up
from tests.publishing import ingest_retrying, workload
from tests.rebuild import assert_equals_a_clean_rebuild, read_log

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from tests.e2e.helpers import Up

BATCH = 20


def processes(up: Up) -> dict[str, int]:
    """The children of `rapport up` by what they are: `nats`, or the service's name."""
    found = {}
    for pid in up.children():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if command[0].endswith(b"nats-server"):
            found["nats"] = pid
        elif b"service" in command:
            found[command[command.index(b"service") + 1].decode()] = pid
    return found


async def connect_as(up: Up, role: str) -> NATS:
    credential = read_credential(up.data_dir, role)
    assert credential is not None, f"rapport up wrote no credentials for {role}"
    return await nats.connect(
        up.nats_url,
        user=credential.user,
        password=credential.password,
        inbox_prefix=f"_INBOX.{role}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
    )


async def healthy(up: Up, within: float) -> dict[str, Any]:
    """Wait for /healthz to answer 200; its body."""
    deadline = time.monotonic() + within
    last = "no answer"
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            try:
                response = await http.get(f"{up.http_url}/healthz")
            except httpx.HTTPError as exc:
                last = repr(exc)
            else:
                if response.status_code == 200:
                    body: dict[str, Any] = response.json()
                    return body
                last = response.text
            await asyncio.sleep(0.2)
    raise AssertionError(f"not healthy within {within} s: {last}\n{up.log.read_text()}")


async def keep_ingesting(
    producer: NATS, envelopes: list[dict[str, Any]], enough: asyncio.Event
) -> dict[str, int]:
    """Send batch after batch (each retried until taken or refused) until told it is enough.

    The workload breaks the stage rules now and then: those refusals are final, and checked.
    """
    acked: dict[str, int] = {}
    refused: dict[str, str] = {}
    for start in range(0, len(envelopes), BATCH):
        if enough.is_set():
            break
        batch = envelopes[start : start + BATCH]
        deadline = time.monotonic() + 90
        acked |= await ingest_retrying(producer, batch, deadline, batch=BATCH, refused=refused)
        await asyncio.sleep(0.01)
    assert all("data." in why for why in refused.values()), refused
    return acked


async def applied_everywhere(admin: NATS, target: int, within: float) -> None:
    deadline = time.monotonic() + within
    waiting = set(SPECS)
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            status = await status_of(admin, name, within=1)
            if status is not None and status["applied_seq"] >= target:
                waiting.discard(name)
        await asyncio.sleep(0.1)
    assert not waiting, f"{waiting} did not apply seq {target} within {within} s"


async def test_kill_9_of_nats_and_of_every_service_under_load_heals(tmp_path: Path) -> None:
    with rapport_up(tmp_path) as up:
        producer = await connect_as(up, "producer")
        admin = await connect_as(up, "admin")
        envelopes = workload(50_000, seed=5)
        enough = asyncio.Event()
        sending = asyncio.create_task(keep_ingesting(producer, envelopes, enough))
        killed: list[str] = []
        try:
            for victim in ("nats", "stage", "ingest", "health", "proposals", "gateway"):
                await asyncio.sleep(0.5)  # let the load run a while first
                assert not sending.done(), sending
                before = processes(up)
                os.kill(before[victim], signal.SIGKILL)
                killed.append(victim)
                deadline = time.monotonic() + 60
                while True:  # back: a new process, then everything answers again
                    now = processes(up).get(victim)
                    if now is not None and now != before[victim] and alive(now):
                        break
                    assert time.monotonic() < deadline, (
                        f"{victim} not restarted:\n{up.log.read_text()}"
                    )
                    await asyncio.sleep(0.05)
                await healthy(up, 60)
            enough.set()
            acked = await asyncio.wait_for(sending, 120)
        finally:
            enough.set()
            if not sending.done():
                sending.cancel()
        log = up.log.read_text()
        for victim in killed:
            name = "the embedded NATS server" if victim == "nats" else f"service {victim}"
            assert f"{name} exited with code -9" in log, log
            assert f"restarting {name}" in log, log
        assert len(acked) >= 6 * BATCH
        status = await status_of(admin, "up", within=2)
        assert status is not None
        assert status["problem"] is None
        assert all(status["restarts"][victim] == 1 for victim in killed), status["restarts"]

        # nothing acknowledged lost, nothing stored twice, projections as a clean rebuild
        info = await admin.jetstream(timeout=10).stream_info(EVENTS_STREAM)
        stored = [orjson.loads(data)["id"] for _, _, data in await read_log(admin)]
        assert len(stored) == len(set(stored)), "an event was stored twice"
        assert set(acked) <= set(stored), "an acknowledged event is missing"
        assert info.state.messages == len(acked)
        await applied_everywhere(admin, info.state.last_seq, 60)
        await compare_with_clean_rebuilds(up, admin, tmp_path / "oracle", stored_keys(envelopes))
        await producer.close()
        await admin.close()


def stored_keys(envelopes: list[dict[str, Any]]) -> list[str]:
    return sorted({envelope["subject"] for envelope in envelopes})


async def compare_with_clean_rebuilds(up: Up, admin: NATS, oracle: Path, keys: list[str]) -> None:
    credential = read_credential(up.data_dir, "admin")
    assert credential is not None
    settings = Settings(
        nats_url=up.nats_url,
        nats_user=credential.user,
        nats_password=SecretStr(credential.password),
        data_dir=oracle,
    )
    for name, spec in SPECS.items():
        status = await status_of(admin, name, within=2)
        assert status is not None, name
        live = spec.store(Path(status["store"]))
        await live.open()
        try:
            await assert_equals_a_clean_rebuild(settings, name, live, keys, oracle / name)
        finally:
            await live.close()
