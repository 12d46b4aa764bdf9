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

from events.subjects import QUERY_PREFIX


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
