"""The bench's query-side figures: search and `health.summary`, measured against real services."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
import pytest

from benchmarks.bench import Options
from benchmarks.queries_at_scale import long_relationship, measured
from tests.factories import event
from tests.publishing import ask, publish

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS


@pytest.mark.usefixtures("services")
async def test_search_and_summary_figures_come_back_in_milliseconds(nc: NATS) -> None:
    last = 0
    for number in range(5):
        data = {"owner": "owner-1@example.com", "counterpart": {"name": f"Counterpart r{number}"}}
        last = await publish(nc, event("connection.made", f"r{number}", data))
    await ask(nc, "stage.get", relationship_id="r4", min_seq=last)
    figures = await measured(nc, 5, Options(query_seconds=0.2))
    assert set(figures) == {"search", "health_summary"}
    for figure in figures.values():
        assert figure["errors"] == 0
        assert 0 < figure["p50_ms"] <= figure["p99_ms"]


def test_the_long_relationship_is_one_relationship_in_time_order() -> None:
    events = long_relationship(50)
    assert len(events) == 50
    assert {subject.split(".")[2] for subject, _, _ in events} == {"long-1"}
    assert events[0][0].endswith("connection.made")
    assert len({event_id for _, _, event_id in events}) == 50
    times = [orjson.loads(data)["time"] for _, data, _ in events]
    assert times == sorted(times)
