"""`rapport bench --quick`: every figure the issue asks for comes out of one run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

REQUIRED = {
    "events", "relationships", "publish_eps", "e2e_eps", "projector_eps", "replay_eps",
    "raw_fetch_ack_eps", "raw_ordered_eps", "faststream_default_eps", "eventsourcing_eps",
    "query_ms", "rss_mb", "ratios", "raw_pipeline_eps", "http", "dashboard",
}  # fmt: skip


@pytest.mark.timeout(600)  # every phase of the benchmark, small: a few minutes on 2 busy cores
def test_bench_quick_reports_every_figure(tmp_path: Path) -> None:
    # as after the README's first command: the peer baseline's library is not installed
    missing = tmp_path / "eventsourcing"
    missing.mkdir()
    (missing / "__init__.py").write_text("raise ImportError('not installed')\n")
    work = tmp_path / "not" / "yet"
    result = subprocess.run(
        # a work folder that does not exist yet is made
        [sys.executable, "-m", "services", "bench", "--quick", "--json", "--workdir", str(work)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout)  # stdout holds the JSON alone ...
    said = " ".join(result.stderr.split())
    assert "· projector stage catching up alone" in said  # ... progress goes beside it
    assert work.is_dir()
    assert REQUIRED <= set(figures)
    assert figures["events"] == 20_000
    for name in ("stage", "health", "proposals"):
        assert figures["projector_eps"][name] > 0
        assert figures["replay_eps"][name] > 0
        assert figures["rss_mb"][name] > 0
    assert set(figures["query_ms"]) >= {"nats_p50", "nats_p99", "http_p50", "http_p99"}
    assert set(figures["ratios"]) == {
        "e2e_vs_raw_pipeline", "live_vs_raw", "replay_vs_ordered", "replay_all_vs_ordered",
        "vs_faststream_default",
        "vs_eventsourcing", "ingest_identity_vs_window_only",
    }  # fmt: skip
    assert figures["raw_pipeline_eps"] > 0
    assert figures["replay_all_eps"] > 0
    # from outside, by wrk and hey (Debian packages; .ci/run installs them)
    assert set(figures["http"]) >= {"rps", "p50_ms", "p99_ms", "spread_rps", "spread_p99_ms"}
    assert figures["http"]["rps"] > 0
    assert figures["http"]["spread_rps"] > 0
    assert figures["http"]["errors"] == 0
    assert set(figures["dashboard"]) >= {
        "overview_p50_ms", "overview_p99_ms", "relationship_p50_ms", "relationship_p99_ms"
    }  # fmt: skip
    assert figures["dashboard"]["errors"] == 0
    assert figures["ingest_eps"] > 0
    assert figures["ingest_eps_window_only"] > 0
    assert figures["ratios"]["vs_faststream_default"] > 1
    assert figures["eventsourcing_eps"] is None
    assert figures["skipped"] == ["eventsourcing peer: pip install -e '.[test]' brings its library"]
    assert figures["ratios_note"].startswith("indicative only: 20,000 events")


def test_bench_refuses_a_work_folder_it_cannot_make(tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "services", "bench", "--quick", "--workdir", str(taken / "sub")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    said = " ".join(result.stderr.split())  # as one line, however the terminal wraps it
    assert result.returncode == 1
    assert said.startswith("error: --workdir ")
    assert said.endswith("cannot use it as a folder (Not a directory)")
    assert "Traceback" not in said
