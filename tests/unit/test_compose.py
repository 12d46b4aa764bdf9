"""docker-compose.yml: a 3-node JetStream cluster and every service a real `rapport` command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from services.config.roster import SERVICES
from services.config.settings import Settings
from services.entry import app

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_three_routed_jetstream_nodes_with_healthchecks_and_volumes(
    compose: dict[str, Any],
) -> None:
    nodes = {name: spec for name, spec in compose["services"].items() if name.startswith("nats-")}
    assert sorted(nodes) == ["nats-1", "nats-2", "nats-3"]
    for name, spec in nodes.items():
        assert spec["image"].startswith("nats:")
        args = " ".join(spec["command"])
        assert f"--server_name={name}" in args
        assert "--jetstream" in args
        assert "--cluster_name=rapport" in args
        assert all(f"nats://{other}:6222" in args for other in nodes)
        assert "healthz" in " ".join(spec["healthcheck"]["test"])
        volume = spec["volumes"][0].split(":")[0]
        assert volume in compose["volumes"]


def test_every_rapport_service_runs_a_real_command(compose: dict[str, Any]) -> None:
    group: Any = typer.main.get_command(app)
    rapport = {n: s for n, s in compose["services"].items() if not n.startswith("nats-")}
    assert rapport
    seen = set()
    for name, spec in rapport.items():
        command = spec["command"]
        sub = group.get_command(group.make_context("rapport", list(command)), command[0])
        assert sub is not None, f"{name}: `rapport {command[0]}` does not exist"
        sub.make_context(command[0], list(command[1:]))  # parses, or raises a usage error
        if command[0] == "service":
            assert command[1] in SERVICES, f"{name}: no service {command[1]}"
            seen.add(command[1])
        assert spec["build"] == "."
    assert seen == set(SERVICES)


def test_services_are_configured_by_known_settings(compose: dict[str, Any]) -> None:
    known = {f"RAPPORT_{field.upper()}" for field in Settings.model_fields}
    for name, spec in compose["services"].items():
        environment = spec.get("environment") or {}
        if name.startswith("nats-"):
            continue  # the passwords its configuration refers to (test_roles_and_passwords...)
        for key in environment:
            assert key in known, f"{name}: {key} is not a Rapport setting"
        assert environment["RAPPORT_REPLICAS"] == "3"
        assert environment["RAPPORT_NATS_URL"].count("nats://") == 3


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


def test_roles_and_passwords_every_container_has_its_own(compose: dict[str, Any]) -> None:
    """NATS knows every role's password; each Rapport container logs in as its own role."""
    wanted = {f"RAPPORT_{role.upper()}_PASSWORD" for role in ROLES}
    for name, spec in compose["services"].items():
        environment = spec.get("environment") or {}
        if name.startswith("nats-"):
            assert set(environment) == wanted
            assert all(f"${{{key}:?" in value for key, value in environment.items())
            assert "--config=/etc/rapport/rapport.conf" in spec["command"]
            assert "./deploy/nats:/etc/rapport:ro" in spec["volumes"]
            continue
        role = environment["RAPPORT_NATS_USER"]
        expected = "admin" if spec["command"][:2] == ["admin", "streams"] else spec["command"][1]
        assert role == expected, f"{name} logs in as {role}, not {expected}"
        assert environment["RAPPORT_NATS_PASSWORD"].startswith(
            f"${{RAPPORT_{role.upper()}_PASSWORD"
        )
        if role != "admin":
            assert spec["depends_on"] == {
                "streams": {"condition": "service_completed_successfully"}
            }


def test_partition_replicas_cover_every_partition(compose: dict[str, Any]) -> None:
    stage = [s["environment"] for n, s in compose["services"].items() if n.startswith("stage")]
    partitions = {int(env["RAPPORT_PARTITIONS"]) for env in stage}
    assert len(partitions) == 1
    assert sorted(int(env["RAPPORT_PARTITION"]) for env in stage) == list(range(partitions.pop()))
    assert len({env["RAPPORT_INSTANCE"] for env in stage}) == len(stage)


def test_the_dockerfile_installs_the_project() -> None:
    dockerfile = (COMPOSE.parent / "Dockerfile").read_text()
    assert "RUN pip install --no-cache-dir . " in dockerfile  # the project itself, not a wheel
    for package in ("events", "projections", "services"):
        assert f"COPY {package} {package}" in dockerfile  # every package it is built from
    assert 'ENTRYPOINT ["rapport"]' in dockerfile
