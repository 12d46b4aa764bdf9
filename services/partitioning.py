"""Projector replicas that share the work: relationships partitioned by a hash of their id.

With `RAPPORT_PARTITIONS=N`, replica k (`RAPPORT_PARTITION=k`) reads the whole log but folds
and stores only the relationships whose id hashes to k — each relationship has exactly one
owner, so its events are still folded in stream order. Queries arrive on the usual subjects
(any replica takes them, through a queue group) and are routed: a question about one
relationship goes to its owner on `rapport.q.<projection>.p<k>.<query>`; a list, a funnel or
a summary is asked of every partition and merged.
"""

from __future__ import annotations

import zlib
from typing import Any

from events.subjects import QUERY_PREFIX
from projections.stage.fold import funnel_reply


def partition_of(relationship_id: str, partitions: int) -> int:
    """The partition that owns a relationship (stable across processes and hosts)."""
    return zlib.crc32(relationship_id.encode()) % partitions


def subject_relationship(subject: str) -> str | None:
    """The relationship id token of an event subject, if it has one."""
    parts = subject.split(".")
    return parts[2] if len(parts) == 5 else None


def partition_subject(projection: str, partition: int, query: str) -> str:
    """Where partition `partition` answers `query` itself."""
    return f"{QUERY_PREFIX}.{projection}.p{partition}.{query}"


def merge_ordered(replies: list[dict[str, Any]], limit: int, key: str) -> dict[str, Any]:
    """Merge pages ordered by `key` (a field, or `due` for (next_touch_due, id))."""
    items = [item for reply in replies for item in reply.get("items", [])]

    def position(item: dict[str, Any]) -> Any:
        if key == "due":
            return (item.get("next_touch_due") or "", item["relationship_id"])
        return item[key]

    items.sort(key=position)
    more = len(items) > limit or any(reply.get("next_cursor") for reply in replies)
    page = items[:limit]
    return {
        "items": page,
        "more": more and bool(page),
        "last": position(page[-1]) if page else None,
    }


def merge_funnel(replies: list[dict[str, Any]]) -> dict[str, Any]:
    """Add the partitions' counts; the ratios come from the one funnel formula."""
    counts: dict[tuple[str, str], int] = {}
    for reply in replies:
        for measure, part in (("now", "stages"), ("reached", "reached")):
            for name, count in reply.get(part, {}).items():
                counts[(measure, name)] = counts.get((measure, name), 0) + count
    return funnel_reply(counts)
