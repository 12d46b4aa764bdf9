"""The README's tour reproduces: every `$ ` command of its console blocks, run in order on a
fresh `rapport up`, prints what the README shows.

The tour is the README from "## A 60-second tour" up to the first heading after
"## Auditing a relationship". Each console block is a run of `$ command` lines (a trailing
`\\` or an open quote continues a command) followed by the output the README shows. The commands run through
`bash -c` in a temp dir holding a copy of `examples/` (so pipes, quotes and redirections work
as typed), in an 80-column terminal, standard error merged into standard output as a terminal
shows it. The CLI finds the NATS URL and its credentials from `./rapport-data` itself; `curl`
is pointed at this run's HTTP port instead of localhost:8080.

What may differ between runs, and only that, is normalized (see `normalized`):
- trailing spaces of a line (Rich pads table cells; the README does not keep them);
- dates counted from today: a date on or after the day of the run is shifted by the days
  between the run and the day the README's outputs were made ("made on YYYY-MM-DD" in the
  tour), so "since 2026-12-01" and "due 2026-12-11" compare on any day (a run that
  crosses midnight UTC between two commands can still differ by a day);
- the relationship id `rapport new` draws (a slug and 6 random hex digits): this run's is
  replaced by the README's wherever it appears after the `new` that printed it;
- event ids drawn as UUIDs (`rapport emit` without `--id`): both sides read `<uuid>`;
- the rate of a progress bar (`… ev/s`), a measure of this machine at this moment.
Everything else — ids, sequences, scores, reasons, tables — must match line for line.
Before each command the test waits until the projections have applied everything stored (as
they have by the time a person types the next command); it never sleeps a fixed time.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import nats
import pytest

from events.subjects import EVENTS_STREAM
from tests.e2e.helpers import Up, rapport_up

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FIRST, LAST = "## A 60-second tour", "## Auditing a relationship"
MADE_ON = re.compile(r"made on (\d{4}-\d{2}-\d{2})")
DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
RATE = re.compile(r"\s+[\d,.]+ ev/s")
OPENED = re.compile(r"^opened ([a-z0-9-]+-[0-9a-f]{6}):", re.MULTILINE)
README_HTTP = "localhost:8080"
MACHINE = re.compile(r"^rapport export|--json|--format")  # CSV and JSON: for programs, any width
COMMAND_SECONDS = 60  # the longest one command of the tour may take
SETTLE_SECONDS = 30  # the longest the projections may take to apply what a command stored
CAUGHT_UP: tuple[tuple[str, dict[str, str]], ...] = (  # a query of each projection
    ("/v1/funnel", {}),  # stage
    ("/v1/relationships", {"band": "dormant", "limit": "1"}),  # health
    ("/v1/proposals", {}),  # proposals
)
COLUMNS = 80


@dataclass
class Step:
    """One `$ ` command of the tour and the output the README shows for it."""

    command: str
    expected: list[str] = field(default_factory=list)


def tour(readme: str) -> str:
    """The README's tour: from its first section to the heading after its last."""
    start = readme.index(f"\n{FIRST}\n")
    last = readme.index(f"\n{LAST}\n", start)
    end = readme.find("\n## ", last + 1)
    return readme[start : end if end != -1 else len(readme)]


def steps(text: str) -> list[Step]:
    """Every command of the tour's console blocks, in order, with the output shown after it."""
    found: list[Step] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.DOTALL):
        lines = block.splitlines()
        index = 0
        while index < len(lines):
            line = lines[index]
            assert line.startswith("$ "), f"a console block must start with `$ `: {line!r}"
            command = [line[2:]]
            while unfinished("\n".join(command)) and index + 1 < len(lines):
                index += 1
                command.append(lines[index])
            step = Step("\n".join(command))
            index += 1
            while index < len(lines) and not lines[index].startswith("$ "):
                step.expected.append(lines[index])
                index += 1
            found.append(step)
    return found


def unfinished(command: str) -> bool:
    """True while a command goes on to the next line: a trailing `\\` or an open quote."""
    if command.endswith("\\"):
        return True
    try:
        shlex.split(command, comments=True)
    except ValueError:  # "No closing quotation"
        return True
    return False


@dataclass
class Normalizer:
    """What may differ between this run and the README's, made the same (module docstring)."""

    shift: timedelta  # README's day minus the day of this run
    run_day: date
    drawn_ids: dict[str, str] = field(default_factory=dict)  # this run's id -> the README's

    def actual(self, output: str) -> list[str]:
        """This run's output as the README would show it."""
        for drawn, shown in self.drawn_ids.items():
            output = output.replace(drawn, shown)
        output = DATE.sub(self._shifted, output)
        return self.both(output.splitlines())

    def both(self, lines: list[str]) -> list[str]:
        """What is normalized on both sides: trailing spaces, UUIDs, rates."""
        said = [RATE.sub(" <rate> ev/s", UUID.sub("<uuid>", line)).rstrip() for line in lines]
        while said and not said[-1]:
            said.pop()
        return said

    def _shifted(self, match: re.Match[str]) -> str:
        try:
            day = date.fromisoformat(match.group(1))
        except ValueError:
            return match.group(1)
        return (day + self.shift).isoformat() if day >= self.run_day else match.group(1)


def run(up: Up, workdir: Path, step: Step) -> subprocess.CompletedProcess[str]:
    """One command as a person types it, beside `rapport-data`, in an 80-column terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    env.update(
        COLUMNS=str(COLUMNS),
        LINES="50",
        # `rapport` and `python` as the README's reader has them: this venv's
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    port = up.http_url.rsplit(":", 1)[1]
    command = step.command.replace(README_HTTP, f"127.0.0.1:{port}")
    return subprocess.run(
        ["bash", "-c", command],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )


async def last_stored(up: Up) -> int:
    """The last sequence of the log, asked as the operator at this machine (admin)."""
    admin = json.loads((up.data_dir / "credentials" / "admin.json").read_text())
    nc = await nats.connect(up.nats_url, user=admin["user"], password=admin["password"])
    try:
        info = await nc.jetstream().stream_info(EVENTS_STREAM)
    finally:
        await nc.close()
    return int(info.state.last_seq)


def settle(up: Up) -> None:
    """Wait until every projection has applied all that is stored, as it has by the time a
    person types the next command (a command that writes returns once the log has it)."""
    last = asyncio.run(last_stored(up))
    deadline = time.monotonic() + SETTLE_SECONDS
    for route, params in CAUGHT_UP:
        asked = {**params, "min_seq": str(last), "wait_ms": "2000"}  # answers once applied
        while True:  # each ask waits up to 2 s for the projection; bounded by the deadline
            reply = httpx.get(f"{up.http_url}{route}", params=asked, timeout=10)
            if reply.status_code == 200:
                break
            assert time.monotonic() < deadline, f"{route}: seq {last} not applied: {reply.text}"


def difference(step: Step, expected: list[str], actual: list[str]) -> str:
    """Where a command's output left the README, line by line."""
    import difflib

    diff = "\n".join(difflib.unified_diff(expected, actual, "README", "this run", lineterm=""))
    return f"`$ {step.command}` no longer prints what the README shows:\n{diff}"


def test_the_tour_in_the_readme_reproduces(tmp_path: Path) -> None:
    text = tour(README.read_text())
    made_on = MADE_ON.search(text)
    assert made_on is not None, "the tour must say the day its outputs were made on"
    walk = steps(text)
    assert len(walk) >= 20, "the tour has lost its commands"
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    run_day = datetime.now(UTC).date()
    normal = Normalizer(date.fromisoformat(made_on.group(1)) - run_day, run_day)
    with rapport_up(tmp_path) as up:
        for step in walk:
            settle(up)
            done = run(up, tmp_path, step)
            assert "Traceback" not in done.stdout, f"`$ {step.command}`:\n{done.stdout}"
            if step.command.startswith("rapport ") and not MACHINE.search(step.command):
                wide = [line for line in done.stdout.splitlines() if len(line) > COLUMNS]
                assert not wide, f"`$ {step.command}` is wider than {COLUMNS} columns: {wide}"
            expected = normal.both(step.expected)
            drawn, shown = OPENED.search(done.stdout), OPENED.search("\n".join(expected))
            if drawn and shown:
                normal.drawn_ids[drawn.group(1)] = shown.group(1)
            actual = normal.actual(done.stdout)
            assert actual == expected, difference(step, expected, actual)


@pytest.mark.parametrize(
    ("readme_line", "this_run", "same"),
    [
        ("since 2026-12-01", "since 2027-03-04", True),  # a date counted from today
        ("opened 2026-09-01", "opened 2026-09-01", True),  # a fixed date stays
        ("opened 2026-09-01", "opened 2026-09-02", False),
        ("accepted 0f9e1a77-6f0a-4b1e-8f3b-1d2c3b4a5e6f as seq 9",
         "accepted 5b0c3a8e-0c52-4a6f-9d5e-4d1b2c3a9e10 as seq 9", True),
        ("accepted <uuid> as seq 9", "accepted 5b0c3a8e-0c52-4a6f-9d5e-4d1b2c3a9e10 as seq 10",
         False),
        ("emit ━━━━ 9/9      277 ev/s 0:00:00", "emit ━━━━ 9/9    1,277 ev/s 0:00:00", True),
        ("emit ━━━━ 9/9      277 ev/s 0:00:00", "emit ━━━━ 8/9      277 ev/s 0:00:00", False),
        ("health     77 healthy", "health     78 healthy   ", False),
    ],
)  # fmt: skip
def test_only_what_differs_between_runs_is_normalized(
    readme_line: str, this_run: str, same: bool
) -> None:
    normal = Normalizer(date(2026, 12, 1) - date(2027, 3, 4), date(2027, 3, 4))
    assert (normal.actual(this_run) == normal.both([readme_line])) is same


def test_a_drawn_id_is_the_readmes_after_new_prints_it() -> None:
    normal = Normalizer(timedelta(0), date(2026, 12, 1))
    normal.drawn_ids["grace-hopper-0a1b2c"] = "grace-hopper-1da746"
    assert normal.actual("in 6d  grace-hopper-0a1b2c  Grace Hopper") == [
        "in 6d  grace-hopper-1da746  Grace Hopper"
    ]


def test_the_tour_is_read_as_written() -> None:
    text = """## A 60-second tour
```console
$ rapport emit stage.changed --rel x \\
    --set to=awareness
accepted 1 as seq 2
$ rapport today
```
## Auditing a relationship
```console
$ rapport audit x   # a comment
seq  day
```
## Event identity
```console
$ not part of the tour
```
"""
    found = steps(tour("\n" + text))
    assert [s.command for s in found] == [
        "rapport emit stage.changed --rel x \\\n    --set to=awareness",
        "rapport today",
        "rapport audit x   # a comment",
    ]
    assert [s.expected for s in found] == [["accepted 1 as seq 2"], [], ["seq  day"]]
