"""deploy/nats/: the cluster's NATS configuration is the roles `rapport up` enforces, and it loads.

The committed file must be what `rapport admin nats-config` writes for the replicas in
docker-compose.yml; a real nats-server loads it with passwords from the environment, lets every
role in with its own password, and refuses a producer's attempt at the log.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nats
import pytest
import yaml
from nats.errors import Error as NatsError
from nats.errors import NoServersError

from services.nats.embedded import find_binary, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
RAPPORT = [sys.executable, "-m", "services"]
DEPLOY = ROOT / "deploy" / "nats"
ROLES = (
    "producer",
    "reader",
    "admin",
    "stage",
    "health",
    "proposals",
    "ingest",
    "gateway",
    "webhooks",
)


def rapport(*args: str) -> str:
    done = subprocess.run(
        [*RAPPORT, *args], capture_output=True, text=True, timeout=60, check=True, cwd=ROOT
    )
    return done.stdout


def test_the_committed_roles_are_what_rapport_writes_for_the_compose_replicas() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    instances = [
        f"--instance=stage={spec['environment']['RAPPORT_INSTANCE']}"
        for name, spec in compose["services"].items()
        if name.startswith("stage")
    ]
    assert len(instances) == 2
    assert (DEPLOY / "auth.conf").read_text() == rapport("admin", "nats-config", *instances)


@pytest.fixture
def cluster_node(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """nats-server with deploy/nats/rapport.conf, as a compose node starts it (one node)."""
    passwords = {role: f"{role}-{os.urandom(8).hex()}" for role in ROLES}
    environment = {f"RAPPORT_{role.upper()}_PASSWORD": pw for role, pw in passwords.items()}
    port = free_port()
    process = subprocess.Popen(
        [
            str(find_binary()),
            f"--config={DEPLOY / 'rapport.conf'}",
            "--addr=127.0.0.1",
            f"--port={port}",
            "--jetstream",
            f"--store_dir={tmp_path / 'js'}",
        ],
        env={**os.environ, **environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield f"nats://127.0.0.1:{port}", passwords
        assert process.poll() is None, process.communicate(timeout=10)[1].decode()
    finally:
        process.terminate()
        process.communicate(timeout=10)


async def connect(url: str, user: str | None, password: str | None, **options: Any) -> Any:
    for _ in range(100):  # the server may still be starting
        try:
            return await nats.connect(
                url,
                user=user,
                password=password,
                allow_reconnect=False,
                connect_timeout=1,
                max_reconnect_attempts=0,
                **options,
            )
        except (NoServersError, OSError):
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered")


async def test_a_node_loads_it_and_every_role_gets_in_with_its_own_password(
    cluster_node: tuple[str, dict[str, str]],
) -> None:
    url, passwords = cluster_node
    for role, password in passwords.items():
        client = await connect(url, role, password)
        await client.close()
    with pytest.raises(NatsError):
        await connect(url, "admin", passwords["producer"])


async def test_on_a_node_only_the_admin_makes_and_deletes_streams(
    cluster_node: tuple[str, dict[str, str]],
) -> None:
    url, passwords = cluster_node
    rapport_env = {
        **os.environ,
        "RAPPORT_NATS_URL": url,
        "RAPPORT_NATS_USER": "admin",
        "RAPPORT_NATS_PASSWORD": passwords["admin"],
    }
    await connect(url, "admin", passwords["admin"])  # up
    made = await asyncio.to_thread(
        subprocess.run,
        [*RAPPORT, "admin", "streams"],
        env=rapport_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert "RAPPORT_EVENTS: created" in made.stdout
    errors: list[str] = []

    async def noted(exc: Exception) -> None:
        errors.append(str(exc).lower())

    producer = await connect(
        url, "producer", passwords["producer"], error_cb=noted, inbox_prefix="_INBOX.producer"
    )
    try:
        await producer.publish(
            "$JS.API.STREAM.DELETE.RAPPORT_EVENTS", b"", reply="_INBOX.producer.1"
        )
        for _ in range(100):
            if any("permissions violation" in error for error in errors):
                break
            await asyncio.sleep(0.05)
        assert any('"$js.api.stream.delete.rapport_events"' in error for error in errors)
        ack = await producer.jetstream().publish("rapport.ev.rel-1.connection.made", b"{}")
        assert ack.stream == "RAPPORT_EVENTS"
    finally:
        await producer.close()
