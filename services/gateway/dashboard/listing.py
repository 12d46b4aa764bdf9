"""The list pages' shared parts: links that keep the filters, and sorting one page by a column.

The queries give one order (relationship id, most overdue first, most ready first) and page
by it; a column header re-sorts the rows of the page at hand (`?sort=name`, `?sort=-name`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from starlette.requests import Request

Row = dict[str, Any]


def url_with(request: Request, **changes: object) -> str:
    """This page's path and query string with some parameters set (None or "" drops one)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    kept += [(k, str(v)) for k, v in changes.items() if v is not None and v != ""]
    return request.url.path + (f"?{urlencode(kept)}" if kept else "")


def whole(text: str | None, most: int) -> int | None:
    """A positive whole number from a URL, at most `most` (None for anything else)."""
    if not text or not text.isascii() or not text.isdigit() or len(text) > len(str(most)):
        return None
    number = int(text)
    return number if 0 < number <= most else None


def folded(text: str) -> str:
    """Text as a sort reads it: case and accents ignored (`Ólafur` sorts with `olafur`)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True, slots=True)
class Column:
    """A column: its header, and the value of a row it sorts by (None sorts last).

    A column without `value` is not sortable.
    """

    key: str
    label: str
    value: Callable[[Row], Any] | None = None


def sort_rows(
    rows: Sequence[Row], sort: str | None, columns: Mapping[str, Column]
) -> tuple[list[Row], str | None]:
    """The rows by `sort` (a column key, `-` first for descending) and the sort in force.

    An unknown key keeps the query's order. Rows without a value stay last either way.
    """
    key = (sort or "").removeprefix("-")
    column = columns.get(key)
    read = column.value if column is not None else None
    if read is None:
        return list(rows), None
    descending = bool(sort and sort.startswith("-"))
    known = [row for row in rows if read(row) is not None]
    unknown = [row for row in rows if read(row) is None]

    def value(row: Row) -> Any:
        found = read(row)
        return folded(found) if isinstance(found, str) else found

    return sorted(known, key=value, reverse=descending) + unknown, sort


@dataclass(frozen=True, slots=True)
class Header:
    """A column header: its label, the link that sorts by it, and `aria-sort`."""

    label: str
    href: str | None
    aria_sort: str | None


def headers(request: Request, columns: Sequence[Column], sort: str | None) -> list[Header]:
    """The headers of a sortable table: ascending first, then descending on a second click."""
    found = []
    for column in columns:
        if column.value is None:
            found.append(Header(column.label, None, None))
            continue
        order = None
        if sort == column.key:
            order = "ascending"
        elif sort == f"-{column.key}":
            order = "descending"
        flip = f"-{column.key}" if order == "ascending" else column.key
        found.append(Header(column.label, url_with(request, sort=flip), order))
    return found


def by_key(columns: Sequence[Column]) -> dict[str, Column]:
    """Columns by their key."""
    return {column.key: column for column in columns}
