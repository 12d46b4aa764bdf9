"""`rapport bench --quick`: every figure the issue asks for comes out of one run."""

from __future__ import annotations

import json
import subprocess
import sys

REQUIRED = {
    "events", "relationships", "publish_eps", "e2e_eps", "projector_eps", "replay_eps",
    "raw_fetch_ack_eps", "raw_ordered_eps", "faststream_default_eps", "eventsourcing_eps",
    "query_ms", "rss_mb", "ratios",
}  # fmt: skip


def test_bench_quick_reports_every_figure() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services", "bench", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout)
    assert REQUIRED <= set(figures)
    assert figures["events"] == 20_000
    for name in ("stage", "health", "proposals"):
        assert figures["projector_eps"][name] > 0
        assert figures["replay_eps"][name] > 0
        assert figures["rss_mb"][name] > 0
    assert set(figures["query_ms"]) >= {"nats_p50", "nats_p99", "http_p50", "http_p99"}
    assert set(figures["ratios"]) == {
        "live_vs_raw", "replay_vs_ordered", "vs_faststream_default", "vs_eventsourcing",
        "ingest_identity_vs_window_only",
    }  # fmt: skip
    assert figures["ingest_eps"] > 0
    assert figures["ingest_eps_window_only"] > 0
    assert figures["ratios"]["vs_faststream_default"] > 1
