"""Keeping relationships from the command line: find, new, log, today, emit, and lists that fit.

Every command runs as a subprocess in an 80-column terminal against one real `rapport up`
(shared by this module); its output must fit in 80 columns and show every id whole.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.helpers import cli, cli_json, rapport_up
from tests.factories import event

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.helpers import Up

NOW = datetime.now(UTC).replace(microsecond=0)
MARIA = "maria@example.com"
LI = "li@example.com"
ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def ago(days: float) -> str:
    """An instant `days` before the module started (negative: after), as RFC 3339."""
    return (NOW - timedelta(days=days)).isoformat()


def handshake(rel: str, name: str, owner: str, days: float, **counterpart: Any) -> dict[str, Any]:
    data = {"owner": owner, "counterpart": {"name": name, **counterpart}}
    return event("connection.made", rel, data, at=ago(days))


def seed_events() -> list[dict[str, Any]]:
    """Relationships of two owners: new, overdue, closed, and two with proposals."""
    meeting = {"kind": "meeting", "direction": "mutual", "sentiment": 0.8}
    ready = [
        handshake("pat-ready", "Pat Ready", LI, 60, organization="Course Co"),
        event("stage.changed", "pat-ready", {"to": "awareness"}, at=ago(50)),
        event("stage.changed", "pat-ready", {"to": "engagement"}, at=ago(40)),
        event("purpose.set", "pat-ready", {"purpose": "a joint course"}, at=ago(40)),
        event("stage.changed", "pat-ready", {"to": "conversion"}, at=ago(10)),
        *(event("interaction.recorded", "pat-ready", meeting, at=ago(d)) for d in range(1, 60, 5)),
        event(
            "capacity.noted",
            "pat-ready",
            {"capacity": "high", "available_from": ago(5)[:10], "goals": ["reach"]},
            at=ago(5),
        ),
        event(
            "proposal.drafted",
            "pat-ready",
            {
                "proposal_id": "pat-ready-course-proposal",
                "title": "Joint course",
                "goals": ["reach"],
                "proposed_start": ago(-30)[:10],
            },
            at=ago(1),
        ),
    ]
    low = [
        handshake("sam-low", "Sam Early", LI, 20),
        event("interaction.recorded", "sam-low", meeting, at=ago(2)),
        event("capacity.noted", "sam-low", {"capacity": "low"}, at=ago(2)),
        event(
            "proposal.drafted",
            "sam-low",
            {"proposal_id": "sam-low-big-ask", "title": "Big ask"},
            at=ago(1),
        ),
    ]
    return [
        handshake("grace-navy", "Grace Hopper", MARIA, 2, organization="US Navy"),
        handshake("grace-film", "Grace Kelly", LI, 1),
        handshake("alan-late", "Alan Turing", MARIA, 30, organization="Bletchley Park"),
        event("interaction.recorded", "alan-late", meeting, at=ago(25)),
        handshake("olga-overdue", "Olga Quiet", MARIA, 20),
        handshake("linus-log", "Linus Torvalds", MARIA, 3),
        handshake("cleo-closed", "Cleo Closed", MARIA, 40),
        event("stage.changed", "cleo-closed", {"to": "closed", "reason": "moved on"}, at=ago(35)),
        *ready,
        *low,
    ]


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """One `rapport up` for the module, with maria as this user and the seed stored."""
    workdir = tmp_path_factory.mktemp("people")
    with rapport_up(workdir) as running:
        seed = workdir / "seed.jsonl"
        seed.write_text("\n".join(json.dumps(line) for line in seed_events()) + "\n")
        emitted = running.rapport("emit", "--file", str(seed), "--json")
        assert emitted.returncode == 0, emitted.stdout + emitted.stderr
        configured = running.rapport("config", "owner", MARIA)
        assert configured.returncode == 0, configured.stderr
        yield running


def ok(up: Up, *args: str) -> str:
    """A command that must succeed; its standard output."""
    done = cli(up, *args)
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


def whole_ids(output: str) -> set[str]:
    """Every token of the output that looks like one of this module's ids, whole."""
    return set(re.findall(r"[a-z]+-[a-z0-9-]*[a-z0-9]", output))


def rows(output: str, id_: str) -> list[str]:
    """The lines of the table row that starts with an id (its continuation lines too)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [id_])
    found = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        found.append(line)
    return found


def test_new_opens_a_relationship_with_a_readable_id_and_find_shows_it_whole(up: Up) -> None:
    said = ok(
        up, "new", "Ada Lovelace", "--org", "Analytical Engines",
        "--email", "ada@engines.example", "--tag", "math",
    )  # fmt: skip
    opened = re.search(r"opened (\S+): Ada Lovelace", said)
    assert opened is not None, said
    ada = opened.group(1)
    assert re.fullmatch(r"ada-lovelace-[0-9a-f]{6}", ada)

    found = ok(up, "find", "ada", "love")
    assert ada in whole_ids(found)
    assert "Ada Lovelace" in found
    assert "Analytical" in found
    assert "maria" in found
    assert ok(up, "find", "engines.example").count(ada) == 1  # by email
    assert ada in ok(up, "find", "MATH")  # by tag, any case

    again = cli(up, "new", "Augusta King", "--email", "ADA@engines.example")
    assert again.returncode == 1
    assert "ADA@engines.example is already there" in again.stderr
    assert ada in whole_ids(again.stderr)


def test_new_refuses_bad_input_in_words(up: Up) -> None:
    bad_email = cli(up, "new", "Bob", "--email", "not-an-email")
    assert bad_email.returncode == 2
    assert "--email: must be an email address" in bad_email.stderr
    bad_kind = cli(up, "new", "Bob", "--kind", "robot")
    assert bad_kind.returncode == 2
    assert "--kind: 'robot' is not one of person, organization" in bad_kind.stderr
    blank = cli(up, "new", "   ")
    assert blank.returncode == 2
    assert blank.stderr.startswith("error: NAME: must hold some text")
    words = cli(up, "find", "@@")
    assert words.returncode == 2
    assert "WORDS: must hold a word to search for" in words.stderr
    assert "Traceback" not in bad_email.stderr + bad_kind.stderr + blank.stderr + words.stderr


def test_log_records_a_touch_by_words(up: Up) -> None:
    said = ok(up, "log", "linus tor", "call", "--in", "--note", "asked about git")
    assert "logged a call (inbound) with Linus Torvalds (linus-log)" in said
    history = cli_json(up, "history", "linus-log")
    last = history["items"][-1]["event"]
    assert last["type"] == "rapport.interaction.recorded"
    assert last["data"] == {"kind": "call", "direction": "inbound", "notes": "asked about git"}

    by_id = ok(up, "log", "linus-log", "meeting", "--at", ago(1)[:10], "--sentiment", "0.5")
    assert "logged a meeting (mutual) with Linus Torvalds (linus-log)" in by_id
    history = cli_json(up, "history", "linus-log")
    last = history["items"][-1]["event"]
    assert (last["time"], last["data"]["sentiment"]) == (f"{ago(1)[:10]}T12:00:00Z", 0.5)

    bad_time = cli(up, "log", "linus-log", "call", "--at", "yesterday")
    assert bad_time.returncode == 2
    assert "--at: 'yesterday' is not a time" in bad_time.stderr


def test_log_with_an_ambiguous_who_lists_the_matches_and_exits_1(up: Up) -> None:
    done = cli(up, "log", "grace", "call")
    assert done.returncode == 1
    assert {"grace-navy", "grace-film"} <= whole_ids(done.stdout)
    assert "Grace Hopper" in done.stdout
    assert "Grace Kelly" in done.stdout
    assert "“grace” matches 2 relationships: say which by id" in done.stderr

    nobody = cli(up, "log", "zelda", "call")
    assert nobody.returncode == 1
    assert "no relationship is “zelda”" in nobody.stderr

    wrong_kind = cli(up, "log", "grace-navy", "lunch")
    assert wrong_kind.returncode == 2
    assert "KIND: 'lunch' is not one of meeting, call" in wrong_kind.stderr


def test_writing_to_an_unknown_id_asks_for_new(up: Up) -> None:
    refused = cli(
        up, "emit", "interaction.recorded", "--rel", "ghost-77",
        "--set", "kind=call", "--set", "direction=inbound",
    )  # fmt: skip
    assert refused.returncode == 1
    assert "there is no relationship ghost-77 yet" in refused.stderr
    assert "add --new" in refused.stderr
    assert cli(up, "show", "ghost-77").returncode == 1  # nothing was written

    logged = cli(up, "log", "ghost-78", "call")
    assert logged.returncode == 1
    assert "add --new to open the id ghost-78" in logged.stderr

    opened = ok(up, "log", "ghost-78", "call", "--new")
    assert "logged a call (outbound) with ghost-78" in opened
    shown = cli_json(up, "show", "ghost-78")
    assert shown["stage"]["implicit"] is True


def test_today_shows_mine_with_why_and_what_to_do(up: Up) -> None:
    mine = ok(up, "today")
    assert "Today, for maria@example.com" in mine
    assert {"alan-late", "grace-navy"} <= whole_ids(mine)
    assert "grace-film" not in mine  # li's
    assert "cleo-closed" not in mine  # closed: never due
    [late] = [line for line in mine.splitlines() if "alan-late" in line.split()]
    assert "Alan Turing" in late
    assert "d late" in late

    everyone = ok(up, "today", "--all")
    assert {"grace-film", "alan-late"} <= whole_ids(everyone)
    assert "cleo-closed" not in everyone

    one = ok(up, "today", "--all", "--limit", "1")
    more = re.search(r"(\d+) more — rapport today --limit (\d+)", one)
    assert more is not None, one
    listed = cli_json(up, "today", "--all")
    assert int(more.group(1)) == len(listed["items"]) - 1

    nobody = ok(up, "today", "--owner", "mario")
    assert 'no relationships for owner "mario"; owners: ' in " ".join(nobody.split())
    assert "li@example.com (" in nobody
    assert "maria@example.com (" in nobody


def test_today_names_the_action_for_the_first_reason(up: Up) -> None:
    listed = cli_json(up, "today", "--all")
    by_id = {item["relationship_id"]: item for item in listed["items"]}
    new = by_id["grace-film"]  # a handshake a day ago, nothing since
    assert new["reasons"][0].startswith("no interactions recorded yet")
    assert new["action"] == "reach out: log a first touch"
    assert new["when"] == "in 5d"
    text = " ".join(ok(up, "today", "--all").split())
    assert "→ reach out: log a first touch" in text


def test_proposals_show_the_whole_id_and_never_fix_a_strength(up: Up) -> None:
    listed = cli_json(up, "proposals")
    reasons = {item["proposal_id"]: item["readiness"]["reasons"] for item in listed["items"]}
    # the ready one's weightiest gap is a strength: its health, thriving or healthy
    assert re.fullmatch(
        r"relationship health is \d+ \((thriving|healthy)\)",
        reasons["pat-ready-course-proposal"][0],
    )
    assert reasons["pat-ready-course-proposal"][1:] == [
        "in conversion: the relationship is ready for a proposal",
        "they have high capacity now",
        f"they are available from {ago(5)[:10]}, before your start on {ago(-30)[:10]}",
        "aligned with their goals: reach",
    ]
    table = ok(up, "proposals")
    assert {"pat-ready-course-proposal", "sam-low-big-ask"} <= whole_ids(table)
    ready = rows(table, "pat-ready-course-proposal")
    assert len(ready) <= 3
    assert "nothing: ready" in ready[0]
    assert "Pat Ready" in ready[0]
    assert "Joint course" in " ".join(ready)
    assert "relationship health" not in " ".join(ready)
    low = " ".join(" ".join(rows(table, "sam-low-big-ask")).split())
    assert "only a connection: too early" in low
    for row_id in ("pat-ready-course-proposal", "sam-low-big-ask"):
        assert len(rows(table, row_id)) <= 3


def test_lists_name_the_counterpart_and_fit(up: Up) -> None:
    listed = ok(up, "list", "--owner", "maria")
    assert "Grace Hopper" in listed
    assert "Alan Turing" in listed
    assert "grace-film" not in listed
    nobody = ok(up, "list", "--owner", "mario")
    assert 'no relationships for owner "mario"' in nobody
    due = ok(up, "due", "--limit", "1")
    assert "alan-late" in whole_ids(due)
    assert "Alan Turing" in due
    assert "1 more — rapport due --limit 2" in due  # Olga

    moved = cli(up, "emit", "stage.changed", "--rel", "grace-navy", "--set", "to=awareness")
    assert moved.returncode == 0, moved.stderr
    audit = ok(up, "audit", "grace-navy")
    assert "grace-navy Grace Hopper: now awareness" in audit
    assert re.search(r"\d{4}-\d{2}-\d{2}\s+connection → awareness\s+accepted", audit), audit
    assert json.loads(ok(up, "audit", "grace-navy", "--format", "json"))["stage"] == "awareness"
    assert ok(up, "audit", "grace-navy", "--format", "csv").startswith("seq,time,from,to")


JSON_COMMANDS: list[tuple[str, ...]] = [
    ("list",), ("list", "--band", "dormant"), ("due",), ("today",), ("find", "grace"),
    ("proposals",), ("audit", "pat-ready"), ("show", "pat-ready"), ("funnel",),
    ("history", "sam-low"), ("dlq",), ("config", "owner"), ("export", "due"),
    ("token", "create", "ci", "--scope", "read", "--inline"), ("admin", "streams"),
    ("new", "Json Person", "--email", "json@example.com"),
    ("log", "sam-low", "email"),
    ("emit", "purpose.set", "--rel", "sam-low", "--set", "purpose=a small pilot"),
]  # fmt: skip


def test_every_command_takes_json(up: Up) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(lambda args: up.rapport(*args, "--json", columns=80), JSON_COMMANDS))
    for args, result in zip(JSON_COMMANDS, done, strict=True):
        assert result.returncode == 0, f"{args}: {result.stderr}"
        try:
            json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(
                f"{args} --json printed no JSON ({exc}):\n{result.stdout}"
            ) from None
