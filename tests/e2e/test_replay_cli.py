"""`rapport replay all`: the three projections rebuilt at once, each in its own process."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx

from tests.e2e.helpers import rapport_up
from tests.factories import event

if TYPE_CHECKING:
    from pathlib import Path


def test_replay_all_rebuilds_every_projection_at_once_and_swaps_them_live(
    tmp_path: Path,
) -> None:
    with rapport_up(tmp_path) as up:
        lines = [
            event("connection.made", "rel-1", days=0),
            event("stage.changed", "rel-1", {"to": "awareness"}, days=1),
            event("interaction.recorded", "rel-1", days=2),
            event("proposal.drafted", "rel-1", {"proposal_id": "p-1", "title": "Talk"}, days=3),
        ]
        jsonl = tmp_path / "events.jsonl"
        jsonl.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
        assert up.rapport("emit", "--file", str(jsonl)).returncode == 0

        done = up.rapport("replay", "all", "--json")
        assert done.returncode == 0, done.stderr
        figures = json.loads(done.stdout)
        assert set(figures) == {"stage", "health", "proposals", "all"}
        for name in ("stage", "health", "proposals"):
            assert figures[name]["applied_seq"] == 4
            assert figures[name]["swapped_live"] is True  # the running services took them
        assert figures["all"]["events"] == 4

        shown = httpx.get(f"{up.http_url}/v1/relationships/rel-1", params={"min_seq": 4})
        assert shown.json()["stage"] == "awareness"
        table = up.rapport("replay", "all")
        assert table.returncode == 0, table.stderr
        assert "all three at once" in table.stdout
        unknown = up.rapport("replay", "everything")
        assert unknown.returncode == 2
        assert "choose stage, health, proposals or all" in unknown.stderr
