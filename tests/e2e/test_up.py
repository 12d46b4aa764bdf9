"""`rapport up` on a fresh directory, driven as a user would, and stopped like Ctrl-C does."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from typing import TYPE_CHECKING, Any

import httpx

from services.nats.embedded import free_port
from tests.e2e.helpers import RAPPORT, alive, rapport_up
from tests.factories import event

if TYPE_CHECKING:
    from pathlib import Path


def test_up_serves_health_takes_events_and_stops_clean(tmp_path: Path) -> None:
    with rapport_up(tmp_path) as up:
        health = httpx.get(f"{up.http_url}/healthz").json()
        assert health["status"] == "ok"
        assert (up.data_dir / "nats" / "jetstream").is_dir()

        emitted = up.rapport(
            "emit", "connection.made", "--rel", "rel-1",
            "--set", "owner=maria@example.com", "--set", "counterpart.name=Ada Lovelace",
        )  # fmt: skip
        assert emitted.returncode == 0, emitted.stderr
        assert "as seq 1" in emitted.stdout

        refused = up.rapport("emit", "stage.changed", "--rel", "rel-1", "--set", "to=partnership")
        assert refused.returncode == 1
        assert "needs a reason" in refused.stderr

        posted = httpx.post(f"{up.http_url}/v1/events", json=event("interaction.recorded", "rel-1"))
        assert posted.status_code == 202
        assert posted.json()["accepted"][0]["seq"] == 2

        lines = [json.dumps(event("interaction.recorded", f"rel-{n}")) for n in range(5)]
        lines.insert(2, "{broken")
        lines.append(json.dumps(event("interaction.recorded", data={"kind": "call"})))
        jsonl = tmp_path / "events.jsonl"
        jsonl.write_text("\n".join(lines) + "\n")
        result = up.rapport("emit", "--file", str(jsonl), "--json")
        assert result.returncode == 1
        summary = json.loads(result.stdout[result.stdout.index("{") :])
        assert summary["accepted"] == 5
        assert [r["line"] for r in summary["rejected"]] == [3, 7]
        assert "data.direction" in summary["rejected"][1]["error"]

        # names and emails, credentials, the log: nothing readable by anyone but its owner
        shared = [
            f"{path} {oct(path.stat().st_mode & 0o777)}"
            for path in [up.data_dir, *up.data_dir.rglob("*")]
            if path.stat().st_mode & 0o077
        ]
        assert shared == []
        assert (up.data_dir / "credentials" / "producer.json").is_file()
        assert any(up.data_dir.rglob("*.sqlite-wal")) or any(up.data_dir.rglob("*-wal"))

        children = up.children()
        assert len(children) >= 3  # the NATS server and the services
        up.process.send_signal(signal.SIGINT)
        assert up.process.wait(60) == 0
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in children if alive(pid)]
        assert "Rapport stopped." in up.log.read_text()


def test_up_reports_a_busy_port_clearly(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*RAPPORT, "up", "--nats-port", str(port), "--http-port", str(free_port())],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")},
            check=False,
        )
    assert result.returncode == 1
    assert f"port {port}" in result.stderr
    assert "already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_reads_the_projections(tmp_path: Path) -> None:
    with rapport_up(tmp_path) as up:
        lines = [
            event("connection.made", "rel-1", days=0),
            event("stage.changed", "rel-1", {"to": "awareness"}, days=1),
            event("interaction.recorded", "rel-1", days=2),
            event("capacity.noted", "rel-1", {"capacity": "high", "goals": ["reach"]}, days=2),
            event("proposal.drafted", "rel-1", {"proposal_id": "p-1", "title": "Talk"}, days=3),
            event("interaction.recorded", "rel-2", days=1),
        ]
        jsonl = tmp_path / "seed.jsonl"
        jsonl.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
        assert up.rapport("emit", "--file", str(jsonl)).returncode == 0
        # wait until every projection has applied the last event (read-your-writes over HTTP)
        for route in ("/v1/relationships/rel-2", "/v1/relationships/rel-2/health", "/v1/proposals"):
            response = httpx.get(f"{up.http_url}{route}", params={"min_seq": 6, "wait_ms": 10_000})
            assert response.status_code == 200, response.text

        def cli_json(*args: str) -> dict[str, Any]:
            result = up.rapport(*args, "--json")
            assert result.returncode == 0, result.stderr
            parsed: dict[str, Any] = json.loads(result.stdout)
            return parsed

        shown = cli_json("show", "rel-1")
        assert shown["stage"]["stage"] == "awareness"
        assert shown["health"]["next_touch_due"]
        assert [i["relationship_id"] for i in cli_json("list")["items"]] == ["rel-1", "rel-2"]
        assert cli_json("funnel")["reached"] == {
            "connection": 2, "awareness": 1, "engagement": 0, "conversion": 0, "partnership": 0
        }  # fmt: skip
        due = cli_json("due")["items"]
        assert {i["relationship_id"] for i in due} == {"rel-1", "rel-2"}
        [proposal] = cli_json("proposals")["items"]
        assert proposal["proposal_id"] == "p-1"

        table = up.rapport("funnel")
        assert table.returncode == 0
        assert "ever reached" in table.stdout
        missing = up.rapport("show", "nobody")
        assert missing.returncode == 1
        assert "not_found: relationship nobody is unknown" in missing.stderr


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port` (from /proc/net/tcp)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


def test_without_tokens_http_stays_on_loopback(tmp_path: Path) -> None:
    with rapport_up(tmp_path, "--http-host", "0.0.0.0") as up:
        port = int(up.http_url.rsplit(":", 1)[1])
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, not 0.0.0.0
        assert (
            "no API tokens are configured, so HTTP listens on 127.0.0.1 only" in up.log.read_text()
        )


def without_rapport_settings() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}


def test_the_cli_finds_the_rapport_up_that_owns_its_data_dir(tmp_path: Path) -> None:
    with rapport_up(tmp_path) as up:
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        result = subprocess.run(
            [*RAPPORT, "funnel", "--json", "--data-dir", str(up.data_dir)],
            cwd=elsewhere,  # no URL, no credentials given: the data dir says where and who
            env=without_rapport_settings(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["reached"]["connection"] == 0


def test_a_second_up_on_a_data_dir_in_use_is_refused_before_it_starts_anything(
    tmp_path: Path,
) -> None:
    with rapport_up(tmp_path) as up:
        nats_port = free_port()
        second = subprocess.run(
            [*RAPPORT, "up", "--nats-port", str(nats_port), "--http-port", str(free_port())],
            cwd=tmp_path,
            env=without_rapport_settings(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1
        said = " ".join(second.stderr.split())  # as printed, wrapped to the terminal
        assert f"another `rapport up` already runs on {up.data_dir} (pid {up.process.pid}" in said
        assert "Traceback" not in second.stderr
        assert not listening_addresses(nats_port)  # no second server over the same store
        assert httpx.get(f"{up.http_url}/healthz").status_code == 200  # the first one runs on


def test_the_cli_gives_up_on_a_nats_that_is_not_there_and_says_so_once(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [*RAPPORT, "funnel", "--nats-url", f"nats://127.0.0.1:{free_port()}"],
        cwd=tmp_path,
        env=without_rapport_settings(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert time.monotonic() - started < 20
    said = " ".join(result.stderr.split())
    assert "cannot reach NATS" in said
    assert "Is `rapport up` running?" in said
    assert result.stderr.count("Connection refused") <= 1
    assert "Traceback" not in result.stderr
