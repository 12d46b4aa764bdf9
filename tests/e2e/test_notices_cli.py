"""`rapport notices` as a user runs it: it follows the notices in the terminal, in words.

Against a real `rapport up`: the command started with no position prints what is published
after it starts, filtered by owner, a line a notice, and stops cleanly on Ctrl-C; `--json`
prints one object a line with the stream sequence; bad options are refused in words.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from typing import TYPE_CHECKING

import pytest

from services.nats.embedded import die_with_parent
from tests.e2e.helpers import RAPPORT, rapport_up
from tests.e2e.test_readme_examples import Lines

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.helpers import Up

MARIA, BOB = "maria@example.com", "bob@example.com"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """A plain `rapport up` with two relationships of two owners."""
    with rapport_up(tmp_path_factory.mktemp("notices")) as running:
        for rel, owner, name in (("rel-ada", MARIA, "Ada Lovelace"), ("rel-bob", BOB, "Bob")):
            opened = running.rapport(
                "emit",
                "connection.made",
                "--rel",
                rel,
                *("--set", f"owner={owner}", "--set", f"counterpart.name={name}"),
            )
            assert opened.returncode == 0, opened.stderr
        yield running


def emit(up: Up, kind: str, rel: str, event_id: str, *sets: str) -> None:
    args = ["emit", kind, "--rel", rel, "--id", event_id]
    for value in sets:
        args += ["--set", value]
    done = up.rapport(*args)
    assert done.returncode == 0, done.stderr


def following(up: Up, *options: str) -> subprocess.Popen[str]:
    """`rapport notices OPTIONS` in the background, as in a terminal 200 columns wide."""
    return subprocess.Popen(
        [*RAPPORT, "notices", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RAPPORT_NATS_URL": up.nats_url, "COLUMNS": "200"},
        cwd=up.data_dir.parent,  # beside its data dir: the CLI finds its credentials
        preexec_fn=die_with_parent,
    )


def test_it_follows_the_notices_in_words_until_ctrl_c(up: Up) -> None:
    process = following(up, "--owner", "maria")
    try:
        said = Lines(process, process.stderr)
        said.until(lambda line: line.startswith("following notices from seq "))
        out = Lines(process)
        emit(up, "stage.changed", "rel-bob", "bob-1", "to=awareness")  # not maria's
        emit(up, "stage.changed", "rel-ada", "ada-1", "to=awareness")
        printed: list[str] = []

        def a_stage_change(line: str) -> bool:
            printed.append(line)
            return "stage.changed" in line

        line = out.until(a_stage_change)
        assert "rel-ada" in line
        # in stream order bob's change came first: had the filter let it through, it is here
        assert not [seen for seen in printed if "rel-bob" in seen]
        assert "moved from connection to awareness" in line
        emit(up, "proposal.drafted", "rel-ada", "ada-2", "proposal_id=p-1", "title=Workshop")
        emit(up, "proposal.accepted", "rel-ada", "ada-3", "proposal_id=p-1", "reason=fits Q1")
        line = out.until(lambda line: "proposal.decided" in line)
        assert "rel-ada" in line
        assert "proposal p-1 was accepted" in line
        assert "Workshop" not in line  # free text stays out of a notice
        assert "fits Q1" not in line
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(30) in (0, 130)
        assert "rel-bob" not in out.rest()
        assert "Traceback" not in said.rest()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_json_lines_carry_the_sequence_and_the_envelope(up: Up) -> None:
    emit(up, "connection.made", "rel-cleo", "cleo-0", f"owner={BOB}", "counterpart.name=Cleo")
    emit(up, "stage.changed", "rel-cleo", "cleo-1", "to=awareness")
    emit(up, "stage.changed", "rel-cleo", "cleo-2", "to=engagement")
    listed = up.rapport(
        "notices",
        *("--from-seq", "1", "--rel", "rel-cleo", "--kind", "stage.changed", "--count", "2"),
        "--json",
    )
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [line["notice"]["id"] for line in lines] == [
        "stage.changed:cleo-1",
        "stage.changed:cleo-2",
    ]
    assert lines[0]["seq"] < lines[1]["seq"]
    last = lines[1]["notice"]
    assert last["specversion"] == "1.0"
    assert last["type"] == "rapport.notice.stage.changed"
    assert last["subject"] == "rel-cleo"
    assert (last["data"]["from"], last["data"]["to"]) == ("awareness", "engagement")
    assert last["data"]["owner"] == BOB
    assert "Cleo" not in listed.stdout  # the counterpart's name is not in a notice
    assert listed.stderr == ""  # no banner: the output is for machines


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (("--kind", "stage.moved"), "--kind: 'stage.moved' is not one of"),
        (("--rel", "a.b"), "--rel: a relationship id is"),
        (("--from-seq", "0"), "--from-seq"),
    ],
)
def test_bad_options_are_refused_in_words(up: Up, options: tuple[str, ...], says: str) -> None:
    refused = up.rapport("notices", *options)
    assert refused.returncode == 2
    assert says in " ".join(refused.stderr.split())
    assert "Traceback" not in refused.stderr
