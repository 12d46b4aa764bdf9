"""Contacts in (`rapport import`), lists out (`rapport export`), dead letters (`rapport dlq`).

Against one real `rapport up` shared by the module, in an 80-column terminal.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import nats
import pytest

from tests.e2e.helpers import cli, cli_json, rapport_up
from tests.factories import event

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.helpers import Up

DATA = Path(__file__).resolve().parents[1] / "data"
OWNER = "maria@example.com"
MANY = 1_050  # more relationships than one page of a list holds (1 000)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """One `rapport up` for the module, with its owner configured."""
    with rapport_up(tmp_path_factory.mktemp("transfer")) as running:
        configured = running.rapport("config", "owner", OWNER)
        assert configured.returncode == 0, configured.stderr
        yield running


def stored(up: Up) -> int:
    """The last sequence the stage projection has applied: it moves with every stored event."""
    return int(cli_json(up, "list", "--limit", "1")["applied_seq"])


def summary(output: str) -> tuple[int, int, int]:
    """(created, already there, skipped) as the summary line says them."""
    found = re.search(r"(?:would create|created) (\d+), already there (\d+), skipped (\d+)", output)
    assert found is not None, output
    created, there, skipped = (int(group) for group in found.groups())
    return created, there, skipped


def test_a_linkedin_export_imports_once(up: Up) -> None:
    first = cli(up, "import", str(DATA / "Connections.csv"))
    assert first.returncode == 0, first.stderr
    assert summary(first.stdout) == (4, 0, 2)
    assert "import" in first.stdout  # the progress bar
    skipped = " ".join(first.stdout.split())
    assert "10 Annie Easley connected on: 'sometime in 2019' is not a date" in skipped

    before = stored(up)
    again = cli(up, "import", str(DATA / "Connections.csv"))
    assert summary(again.stdout) == (0, 4, 2)
    assert stored(up) == before  # nothing new in the log

    found = cli(up, "find", "langley").stdout
    assert "Katherine Johnson" in found
    assert "Dorothy Vaughan" in found
    ids = re.findall(r"^(katherine-johnson-[0-9a-f]{8}|dorothy-vaughan-[0-9a-f]{8}) ", found, re.M)
    assert len(ids) == 2  # whole, at the start of their rows
    margaret = cli_json(up, "find", "margaret")["items"][0]
    assert margaret["counterpart"]["tags"] == ["linkedin"]
    assert margaret["opened_at"].startswith("2023-03-14")  # when they connected


def test_a_vcard_file_imports_once_and_keeps_one_per_email(up: Up) -> None:
    first = cli_json(up, "import", str(DATA / "contacts.vcf"))
    assert sorted(item["name"] for item in first["created"]) == [
        "Ada Lovelace", "Alan Turing", "Analytical Engines Ltd", "Grace Hopper", "Jürgen Müller",
    ]  # fmt: skip
    assert [(item["line"], item["why"]) for item in first["skipped"]] == [
        (24, "same email as line 1"),
        (35, "no name (nor an organization to name it by)"),
    ]
    again = cli_json(up, "import", str(DATA / "contacts.vcf"))
    assert again["created"] == []
    assert sorted(item["relationship_id"] for item in again["already_there"]) == sorted(
        item["relationship_id"] for item in first["created"]
    )
    shown = cli_json(up, "show", first["created"][0]["relationship_id"])
    assert shown["stage"]["counterpart"]["name"] == first["created"][0]["name"]


def test_a_csv_imports_with_a_mapping_and_a_dry_run_stores_nothing(up: Up) -> None:
    before = stored(up)
    planned = cli(up, "import", str(DATA / "contacts.csv"), "--dry-run")
    assert summary(planned.stdout) == (3, 0, 4)
    assert stored(up) == before
    assert cli_json(up, "find", "liskov")["items"] == []

    mapped = cli(
        up, "import", str(DATA / "contacts.csv"), "--format", "csv",
        "--map", "name=Full Name", "--map", "email=E-mail", "--owner", "li@example.com",
    )  # fmt: skip
    assert summary(mapped.stdout) == (3, 0, 4)
    said = " ".join(mapped.stdout.split())
    assert "6 Radia Perlman email: must be an email address" in said
    assert "7 Barbara L. same email as line 2" in said
    [barbara] = cli_json(up, "find", "liskov")["items"]
    assert barbara["owner"] == "li@example.com"
    assert barbara["counterpart"]["tags"] == ["research", "teaching"]

    again = cli(up, "import", str(DATA / "contacts.csv"))
    assert summary(again.stdout) == (0, 3, 4)


def test_import_refuses_what_it_cannot_read_in_words(up: Up, tmp_path: Path) -> None:
    missing = cli(up, "import", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2
    assert "is not a file" in " ".join(missing.stderr.split())  # a long path wraps
    wrong_map = cli(up, "import", str(DATA / "contacts.csv"), "--map", "mail=E-mail")
    assert wrong_map.returncode == 2
    assert "'mail' is not one of name" in " ".join(wrong_map.stderr.split())
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"Name\n\xff\xd8\xff\n")
    unreadable = cli(up, "import", str(binary))
    assert unreadable.returncode == 2
    assert "not UTF-8 text" in " ".join(unreadable.stderr.split())
    assert "Traceback" not in missing.stderr + wrong_map.stderr + unreadable.stderr


def test_export_pages_through_everything(up: Up, tmp_path: Path) -> None:
    handshakes = [
        event("connection.made", f"bulk-{n:04d}", {"owner": "bulk@example.com", "counterpart": {"name": f"Bulk {n}"}})
        for n in range(MANY)
    ]  # fmt: skip
    lines = tmp_path / "bulk.jsonl"
    lines.write_text("\n".join(json.dumps(line) for line in handshakes) + "\n")
    assert cli(up, "emit", "--file", str(lines)).returncode == 0
    wanted = {f"bulk-{n:04d}" for n in range(MANY)}
    deadline = time.monotonic() + 30
    while True:  # the projection may still be folding the last of them
        out = tmp_path / "bulk.csv"
        done = cli(up, "export", "relationships", "--owner", "bulk", "--output", str(out))
        assert done.returncode == 0, done.stderr
        rows = list(csv.DictReader(io.StringIO(out.read_text())))
        if {row["relationship_id"] for row in rows} == wanted or time.monotonic() > deadline:
            break
    assert {row["relationship_id"] for row in rows} == wanted
    assert f"wrote {MANY} relationships to {out}" in " ".join(done.stderr.split())
    assert list(rows[0]) == [
        "relationship_id", "name", "kind", "organization", "email", "tags", "stage", "level",
        "since", "owner", "implicit", "opened_at",
    ]  # fmt: skip
    assert rows[0]["name"] == "Bulk 0"
    assert rows[0]["implicit"] == "false"

    as_json = cli_json(up, "export", "relationships", "--owner", "bulk")
    assert len(as_json) == MANY
    due = up.rapport("export", "due", "--format", "json", columns=80)
    assert all("action" in item for item in json.loads(due.stdout))
    proposals = up.rapport("export", "proposals", columns=80)  # CSV: data, not a table to read
    assert proposals.stdout.splitlines()[0].startswith("proposal_id,relationship_id,name,")
    wrong = cli(up, "export", "due", "--status", "all")
    assert wrong.returncode == 2
    assert "--status: only `export proposals` takes it" in wrong.stderr


async def publish_raw(up: Up, messages: list[tuple[str, bytes]]) -> None:
    """Publish straight into the log as an administrator, skipping the ingest's checks."""
    admin = json.loads((up.data_dir / "credentials" / "admin.json").read_text())
    nc = await nats.connect(
        up.nats_url, user=admin["user"], password=admin["password"], inbox_prefix="_INBOX.admin"
    )
    try:
        for subject, body in messages:
            await nc.jetstream().publish(subject, body)
    finally:
        await nc.close()


def test_dlq_lists_dead_letters_newest_first_with_why(up: Up) -> None:
    assert "No dead letters" in cli(up, "dlq").stdout
    bad_kind = event(
        "interaction.recorded", "dead-letter-rel", {"kind": "lunch", "direction": "outbound"}
    )
    asyncio.run(
        publish_raw(
            up,
            [
                ("rapport.ev.dead-letter-rel.interaction.recorded", json.dumps(bad_kind).encode()),
                ("rapport.ev.broken-bytes-rel.interaction.recorded", b"{broken"),
            ],
        )
    )
    deadline = time.monotonic() + 30
    while len(letters := cli_json(up, "dlq")["items"]) < 6 and time.monotonic() < deadline:
        pass  # each of the three projections keeps its own copy of each
    assert len(letters) == 6
    seqs = [letter["seq"] for letter in letters]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    assert {letter["projection"] for letter in letters} == {"stage", "health", "proposals"}
    assert letters[0]["subject"] == "rapport.ev.broken-bytes-rel.interaction.recorded"
    assert "not valid JSON" in letters[0]["reason"]
    assert letters[0]["data"] == "{broken"

    table = cli(up, "dlq").stdout
    assert "rapport.ev.broken-bytes-rel.interaction.recorded" in table
    assert "rapport.ev.dead-letter-rel.interaction.recorded" in table
    assert re.search(rf"^{seqs[0]}\s+health\s", table, re.M)  # one row for all three copies
    assert "data.kind: Input should be" in " ".join(table.split())
    only = cli_json(up, "dlq", "--projection", "health", "--limit", "1")["items"]
    assert [(letter["projection"], letter["seq"]) for letter in only] == [("health", seqs[0])]
    wrong = cli(up, "dlq", "--projection", "ingest")
    assert wrong.returncode == 2
    assert "--projection: 'ingest' is not one of stage, health, proposals" in wrong.stderr
