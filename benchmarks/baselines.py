"""The baselines `rapport bench` sets Rapport's projectors against, one async function each.

Each runs against a nats-server on loopback whose RAPPORT_EVENTS already holds the events,
reads `count` of them from the start of the stream, and returns a `BaselineResult`
(`events`, `seconds`, `eps`, `notes` saying what was timed, `details`):

- `raw_fetch_ack(nats_url, count)`: the limit with acknowledgements: a hand-rolled durable
  pull consumer that only fetches and acks;
- `raw_ordered(nats_url, count)`: the limit of reading: an ordered consumer that only counts;
- `faststream_default(nats_url, count, workdir)`: the default a user would write: FastStream,
  one message, one parse, one stage fold and one SQLite transaction at a time;
- `eventsourcing_peer(nats_url, count, workdir)`: the same stage and health projections on
  the `eventsourcing` library with its SQLite persistence, projections and tracking records.

None of them changes RAPPORT_EVENTS; each removes the consumer it created.
"""

from __future__ import annotations

from benchmarks.baseline_eventsourcing import eventsourcing_peer
from benchmarks.baseline_faststream import faststream_default
from benchmarks.baseline_raw import raw_fetch_ack, raw_ordered
from benchmarks.result import BaselineResult, NotLoopback

__all__ = [
    "BaselineResult",
    "NotLoopback",
    "eventsourcing_peer",
    "faststream_default",
    "raw_fetch_ack",
    "raw_ordered",
]
