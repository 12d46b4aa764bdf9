"""Event identity and the proposal lifecycle through the CLI door of a real `rapport up`."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from tests.e2e.helpers import rapport_up
from tests.factories import event

if TYPE_CHECKING:
    from pathlib import Path

WINDOW = 1.0  # JetStream's duplicate window for this run, seconds


def test_emitting_a_file_again_after_the_window_stores_nothing_new(tmp_path: Path) -> None:
    with rapport_up(tmp_path, env={"RAPPORT_DUPLICATE_WINDOW": str(WINDOW)}) as up:
        lines = [event("interaction.recorded", f"rel-{n}", event_id=f"e-{n}") for n in range(4)]
        jsonl = tmp_path / "touches.jsonl"
        jsonl.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
        first = up.rapport("emit", "--file", str(jsonl), "--json")
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout[first.stdout.index("{") :])["duplicates"] == 0

        until = time.monotonic() + WINDOW + 0.5
        while time.monotonic() < until:  # JetStream forgets the ids: Rapport does not
            time.sleep(0.05)
        again = up.rapport("emit", "--file", str(jsonl), "--json")
        assert again.returncode == 0, again.stderr
        summary = json.loads(again.stdout[again.stdout.index("{") :])
        assert (summary["accepted"], summary["duplicates"]) == (4, 4)

        reused = up.rapport(
            "emit", "interaction.recorded", "--rel", "rel-0", "--id", "e-0",
            "--set", "kind=call", "--set", "direction=inbound",
        )  # fmt: skip
        assert reused.returncode == 1
        history = json.loads(up.rapport("history", "rel-0", "--json").stdout)
        [original] = [i["seq"] for i in history["items"] if i["event"]["id"] == "e-0"]
        assert f"id 'e-0' already used by another event at seq {original}" in reused.stderr

        ghost = up.rapport(
            "emit", "proposal.accepted", "--rel", "rel-0", "--set", "proposal_id=p-9"
        )
        assert ghost.returncode == 1
        assert "proposal p-9 is unknown, so it cannot be accepted" in ghost.stderr
