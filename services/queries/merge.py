"""Answers of several partitions merged into one (lists by their order, counts added up).

Pure: the partitions' replies in, one reply out. A list is merged in the order its pages are
kept (relationship id, or due time); the funnel is added up and its ratios computed again by
the one funnel formula.
"""

from __future__ import annotations

from typing import Any

from projections.stage.fold import funnel_reply


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
