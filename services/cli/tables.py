"""How the CLI lays out lists: compact tables that fit 80 columns, ids and names never cut.

An id is printed whole on one line (its column never wraps; it is the last thing to give way,
and then it folds rather than losing characters); other text wraps between words. The
compact layout is the default; `--wide` adds every column.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Column, Table

Wide = Annotated[bool, typer.Option("--wide", help="every column (the default fits 80 columns)")]

MORE_OWNERS = 8  # owners named when an owner filter found nothing
WIDEST = 240  # the widest a `--wide` table grows: past it, its text wraps again


def table(*columns: Column | str, title: str | None = None) -> Table:
    """A compact table: a rule under the header, no outer frame, one space between columns."""
    return Table(
        *columns,
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )


def id_column(header: str = "id") -> Column:
    """A column of ids: never wrapped, never cut with an ellipsis."""
    return Column(header, no_wrap=True, overflow="fold")


def text_column(header: str, *, ratio: int | None = None, max_width: int | None = None) -> Column:
    """A column of words that wraps between them (and folds a word too long for it)."""
    return Column(header, overflow="fold", ratio=ratio, max_width=max_width)


NAME_WIDTH = 20  # a name this long stays on one line; a longer one may wrap between words
OWNER_WIDTH = 12  # likewise for an owner


def fitted_column(header: str, texts: list[str], widest: int) -> Column:
    """A column of words kept on one line up to `widest` columns before the others give way."""
    longest = max((len(text) for text in texts), default=0)
    fits = longest <= widest  # then nothing in it wraps; the other text columns give way first
    return Column(header, overflow="fold", no_wrap=fits, min_width=min(longest, widest))


def name_column(items: list[dict[str, Any]], header: str = "name") -> Column:
    """Counterparts' names, each on one line when it is no longer than NAME_WIDTH."""
    return fitted_column(header, [name_of(item) for item in items], NAME_WIDTH)


def owner_column(items: list[dict[str, Any]], *, wide: bool) -> Column:
    """Owners as `owner_text` prints them, each on one line up to OWNER_WIDTH."""
    owners = [owner_text(item.get("owner"), wide=wide) for item in items]
    return fitted_column("owner", owners, OWNER_WIDTH)


def short_column(header: str) -> Column:
    """A column of one short word or number per row (a stage, a score, a count)."""
    return Column(header, no_wrap=True, overflow="fold")


def name_of(item: dict[str, Any]) -> str:
    """The counterpart's name of a stage or health item (or a dash)."""
    counterpart = item.get("counterpart")
    if isinstance(counterpart, dict) and counterpart.get("name"):
        return str(counterpart["name"])
    return str(item.get("name") or "-")


def owner_text(owner: str | None, *, wide: bool) -> str:
    """An owner: whole in the wide layout, the name before the `@` in the compact one.

    Every owner filter takes that short name too (`--owner maria`), so nothing is lost.
    """
    if not owner:
        return "-"
    return owner if wide else owner.split("@", 1)[0]


def day(value: str | None) -> str:
    """A timestamp as a calendar day (or a dash)."""
    return value[:10] if value else "-"


def holds(wanted: str, owners: dict[str, int]) -> bool:
    """True when an owner filter names a known owner (by email, or the name before the @)."""
    return any(wanted in (owner, owner.split("@", 1)[0]) for owner in owners)


def owners_hint(wanted: str, owners: dict[str, int], what: str = "relationships") -> str:
    """Why an owner filter found nothing: the owners that do exist, with their counts."""
    if not owners:
        return f'no {what} for owner "{wanted}": nobody owns a relationship yet'
    named = [f"{owner} ({count})" for owner, count in list(owners.items())[:MORE_OWNERS]]
    if len(owners) > MORE_OWNERS:
        named.append(f"and {len(owners) - MORE_OWNERS} more")
    return f'no {what} for owner "{wanted}"; owners: {", ".join(named)}'


def words(value: Any) -> str:
    """A list of words as one string (or a dash)."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return str(value) if value not in (None, "") else "-"


def print_table(console: Console, rows: Table, wide: bool) -> None:
    """Print a table: the compact layout fits the terminal; `--wide` takes the width it needs.

    Squeezed into 80 columns, every column of a wide table would fold a word per line; at its
    natural width each cell stays whole (a wider terminal, or `less -S`, shows it all).
    """
    natural = Console(width=WIDEST).measure(rows).maximum
    if not wide or natural <= console.width:
        console.print(rows)
        return
    Console(
        file=console.file,
        width=natural,
        color_system=console.color_system,  # type: ignore[arg-type]  # the name it was given
        force_terminal=console.is_terminal,
        no_color=console.no_color,
    ).print(rows)
