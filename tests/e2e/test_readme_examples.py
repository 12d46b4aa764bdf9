"""The README's examples work as written, against a real `rapport up`."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

import httpx
import pytest

from services.nats.embedded import die_with_parent, free_port
from tests.e2e.helpers import rapport_up

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.e2e.helpers import Up

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- tested: tests/e2e/test_readme_examples.py"


def marked_python_block() -> str:
    """The Python block that follows the README's `tested` marker."""
    text = README.read_text()
    after = text[text.index(MARKER) :]
    found = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert found is not None, "the marked block is gone"
    return found.group(1)


def test_the_raw_publish_with_producer_credentials_works_as_written(tmp_path: Path) -> None:
    code = marked_python_block()
    assert "nats://127.0.0.1:4222" in code
    with rapport_up(tmp_path) as up:
        script = tmp_path / "example.py"
        script.write_text(code.replace("nats://127.0.0.1:4222", up.nats_url))
        ran = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,  # beside rapport-data, as a reader of the README would be
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        reply, seq = ran.stdout.splitlines()
        accepted = json.loads(reply)
        assert accepted["rejected"] == []
        assert [a["id"] for a in accepted["accepted"]] == ["evt-78"]
        assert int(seq) == accepted["accepted"][0]["seq"] + 1
        history = up.rapport("history", "rel-42", "--json")
        assert history.returncode == 0, history.stderr
        assert {"evt-78", "evt-79"} <= set(re.findall(r'"(evt-\d+)"', history.stdout))


# -- Hearing about changes: the NATS subscriber and the webhook receiver -----------------------

NATS_SUBSCRIBER = "runs this NATS subscriber"
WEBHOOK_RECEIVER = "runs this webhook receiver"
HEARD_WITHIN = 30.0  # seconds from the CLI's reply to the snippet printing the notice


def python_block_after(words: str) -> str:
    """The Python block after the `tested` marker that says `words`."""
    text = README.read_text()
    marker = f"{MARKER} {words}"
    assert marker in text, f"the README no longer marks the block that {words}"
    found = re.search(r"```python\n(.*?)```", text[text.index(marker) :], re.DOTALL)
    assert found is not None, "the marked block is gone"
    return found.group(1)


class Lines:
    """What a process prints on one stream, line by line, read in a thread (waits are bounded)."""

    def __init__(self, process: subprocess.Popen[str], stream: IO[str] | None = None) -> None:
        self.process = process
        self.queue: queue.Queue[str] = queue.Queue()
        source = stream or process.stdout
        assert source is not None
        threading.Thread(target=self._read, args=(source,), daemon=True).start()

    def _read(self, source: IO[str]) -> None:
        for line in source:
            self.queue.put(line)

    def until(self, wanted: Callable[[str], bool], within: float = HEARD_WITHIN) -> str:
        """The first line printed that `wanted` accepts; fails after `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no such line within {within}s; it printed:\n{self.rest()}")
            try:
                line = self.queue.get(timeout=min(left, 1.0))
            except queue.Empty:
                if self.process.poll() is not None and self.queue.empty():
                    pytest.fail(f"it exited ({self.process.returncode}) without that line")
                continue
            if wanted(line):
                return line

    def rest(self) -> str:
        """What it printed and nobody read yet."""
        found = []
        while not self.queue.empty():
            found.append(self.queue.get_nowait())
        return "".join(found)


@contextmanager
def snippet(code: str, tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[Lines]:
    """Run a README snippet as a script beside rapport-data, until the block ends."""
    script = tmp_path / f"snippet-{abs(hash(code))}.py"
    script.write_text(code)
    with script.with_suffix(".err").open("w") as errors:  # there to read when it fails
        process = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=tmp_path,  # beside rapport-data, as a reader of the README would be
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, **(env or {})},
            preexec_fn=die_with_parent,
        )
    try:
        yield Lines(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.fixture(scope="module")
def listening(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Up, Path]]:
    """`rapport up` that lets webhooks reach this machine, and rel-42 opened."""
    workdir = tmp_path_factory.mktemp("hearing")
    with rapport_up(workdir, env={"RAPPORT_WEBHOOK_ALLOW": "127.0.0.1"}) as up:
        opened = up.rapport(
            "emit",
            "connection.made",
            "--rel",
            "rel-42",
            "--set",
            "owner=maria@example.com",
            "--set",
            "counterpart.name=Ada Lovelace",
        )
        assert opened.returncode == 0, opened.stderr
        yield up, workdir


def change_stage(up: Up, to: str) -> str:
    """Move rel-42 to `to` with the CLI; the id of the notice it must bring."""
    event_id = f"evt-{to}-{time.monotonic_ns()}"
    moved = up.rapport(
        "emit", "stage.changed", "--rel", "rel-42", "--set", f"to={to}", "--id", event_id
    )
    assert moved.returncode == 0, moved.stderr
    return f"stage.changed:{event_id}"


def test_the_nats_subscriber_hears_a_stage_change_as_written(listening: tuple[Up, Path]) -> None:
    up, workdir = listening
    code = python_block_after(NATS_SUBSCRIBER)
    assert "nats://127.0.0.1:4222" in code
    assert "credentials/reader.json" in code  # the reader role, not an administrator
    with snippet(code.replace("nats://127.0.0.1:4222", up.nats_url), workdir) as lines:
        lines.until(lambda line: line.strip() == "listening")
        notice_id = change_stage(up, "awareness")
        heard = lines.until(lambda line: line.startswith(notice_id))
    assert heard.split() == [notice_id, "rapport.notice.stage.changed", "rel-42"]


def test_the_webhook_receiver_verifies_and_takes_a_notice_as_written(
    listening: tuple[Up, Path],
) -> None:
    up, workdir = listening
    code = python_block_after(WEBHOOK_RECEIVER)
    assert '("127.0.0.1", 9000)' in code
    port = free_port()
    added = up.rapport(
        "webhook", "add", f"http://127.0.0.1:{port}/hooks", "--kind", "stage.changed", "--json"
    )
    assert added.returncode == 0, added.stderr
    webhook = json.loads(added.stdout)
    assert webhook["secret"].startswith("whsec_")
    env = {"RAPPORT_WEBHOOK_SECRET": webhook["secret"]}
    with snippet(code.replace("9000", str(port)), workdir, env) as lines:
        receiver = f"http://127.0.0.1:{port}/hooks"
        deadline = time.monotonic() + HEARD_WITHIN
        while True:  # until it listens
            try:
                forged = httpx.post(
                    receiver,
                    content=b"{}",
                    headers={
                        "webhook-id": "forged",
                        "webhook-timestamp": str(int(time.time())),
                        "webhook-signature": "v1,bm90IHRoZSBzaWduYXR1cmU=",
                    },
                    timeout=2,
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the receiver does not listen"
                time.sleep(0.1)
        assert forged.status_code == 400  # a signature that is not Rapport's is refused
        notice_id = change_stage(up, "engagement")
        heard = lines.until(lambda line: line.startswith(notice_id))
        assert heard.split() == [notice_id, "rapport.notice.stage.changed", "rel-42"]
        # The receiver prints before it answers: the delivery is recorded once its 204 is
        # back, so the receiver keeps running until then.
        deadline = time.monotonic() + HEARD_WITHIN
        while True:
            shown = up.rapport("webhook", "deliveries", webhook["id"], "--json")
            assert shown.returncode == 0, shown.stderr
            items = json.loads(shown.stdout)["items"]
            delivery = next(d for d in items if d["notice_id"] == notice_id)
            if delivery["status"] != "pending" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert delivery["status"] == "delivered"
    assert delivery["attempts"][-1]["status_code"] == 204
