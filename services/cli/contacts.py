"""Contacts read from a file: CSV with a column mapping, LinkedIn's `Connections.csv`, vCard.

Pure: bytes in, contacts out. Total: every line either becomes a contact or is skipped with
why; a file that cannot be read at all is refused in words (`ContactsRefused`), never with
a traceback.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from _csv import Reader
    from collections.abc import Iterator

Format = Literal["csv", "linkedin", "vcard"]
FORMATS: tuple[Format, ...] = ("csv", "linkedin", "vcard")
FIELDS = (
    "name", "first_name", "last_name", "organization", "email", "tags", "kind", "owner",
    "connected_on",
)  # fmt: skip
# Column names each field is found under when no `--map` names its column (compared as
# lower-case letters and digits only: "E-mail Address" reads as "emailaddress").
HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "fullname", "displayname", "contactname"),
    "first_name": ("firstname", "givenname", "first"),
    "last_name": ("lastname", "familyname", "surname", "last"),
    "organization": ("organization", "organisation", "company", "companyname", "org", "employer"),
    "email": ("email", "emailaddress", "mail", "primaryemail", "email1"),
    "tags": ("tags", "tag", "labels", "categories", "groups"),
    "kind": ("kind",),
    "owner": ("owner",),
    "connected_on": ("connectedon", "meton", "since"),
}
LINKEDIN_HEADER = "First Name,Last Name,URL,Email Address,Company,Position,Connected On"
LINKEDIN_COLUMNS = {
    "first_name": "First Name",
    "last_name": "Last Name",
    "email": "Email Address",
    "organization": "Company",
    "connected_on": "Connected On",
}
DATE_FORMATS = ("%Y-%m-%d", "%d %b %Y", "%d %B %Y")
TAG_SEPARATORS = re.compile(r"[;,|]")
KINDS = {"person": "person", "organization": "organization", "org": "organization"}
CSV_FIELD_LIMIT = 1 << 20  # one cell of at most 1 MiB: anything larger is not a contact


class ContactsRefused(ValueError):
    """A file that cannot be read as contacts at all; the message says why."""


@dataclass(frozen=True, slots=True)
class Contact:
    """A person or organization to open a relationship with."""

    line: int  # where it starts in the file (1 = the first line)
    name: str
    organization: str | None = None
    email: str | None = None
    tags: tuple[str, ...] = ()
    kind: str = "person"
    owner: str | None = None
    connected_on: date | None = None
    profile: str | None = None  # a LinkedIn profile URL: who they are without an email


@dataclass(frozen=True, slots=True)
class Skipped:
    """A line (or card) that gave no contact, and why."""

    line: int
    why: str
    name: str | None = None


@dataclass(slots=True)
class Contacts:
    """What a file held."""

    found: list[Contact] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def decode(data: bytes) -> str:
    """The file's text (UTF-8, with or without a byte-order mark)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContactsRefused(
            f"not UTF-8 text (byte {exc.start} cannot be read); save it as UTF-8"
        ) from None


def guess_format(name: str, text: str) -> Format:
    """The format a file is in, by its name and its first lines."""
    if name.lower().endswith((".vcf", ".vcard")) or text.lstrip().upper().startswith("BEGIN:VCARD"):
        return "vcard"
    if linkedin_header(text) is not None:
        return "linkedin"
    return "csv"


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """`--map field=Column` options as {field: column}; wrong ones refused in words."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        name, sep, column = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not column.strip():
            raise ContactsRefused(f"--map {pair!r}: say field=Column, e.g. email='E-mail'")
        if name not in FIELDS:
            raise ContactsRefused(f"--map {pair!r}: {name!r} is not one of {', '.join(FIELDS)}")
        mapping[name] = column.strip()
    return mapping


def read_csv(text: str, mapping: dict[str, str] | None = None) -> Contacts:
    """A CSV file whose first line names the columns; `mapping` says which is which."""
    return _read_table(text, 0, mapping or {}, linkedin=False)


def read_linkedin(text: str) -> Contacts:
    """LinkedIn's `Connections.csv`: a few "Notes:" lines, then its header and the rows."""
    start = linkedin_header(text)
    if start is None:
        raise ContactsRefused(f"not a LinkedIn Connections.csv: no line {LINKEDIN_HEADER!r}")
    body = "".join(text.splitlines(keepends=True)[start:])
    return _read_table(body, start, dict(LINKEDIN_COLUMNS), linkedin=True)


def linkedin_header(text: str) -> int | None:
    """The index of the line that starts LinkedIn's table, among the first few lines."""
    for index, line in enumerate(text.splitlines()[:30]):
        if line.strip().lower().startswith("first name,last name,url"):
            return index
    return None


def _read_table(text: str, offset: int, mapping: dict[str, str], *, linkedin: bool) -> Contacts:
    """Rows of a CSV table as contacts; `offset` lines came before its header."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ContactsRefused("the file is empty: no header line") from None
    except csv.Error as exc:
        raise ContactsRefused(f"line {offset + 1}: the header cannot be read ({exc})") from None
    columns = _columns(header, mapping)
    profile = _index(header, "URL") if linkedin else None
    contacts = Contacts()
    for line, row in _rows(reader, offset, contacts):
        if not any(cell.strip() for cell in row):
            continue
        cells = {name: _cell(row, index) for name, index in columns.items()}
        if linkedin:
            cells.update(profile=_cell(row, profile), tags="linkedin")
        made = contact_of(line, cells)
        if isinstance(made, Contact):
            contacts.found.append(made)
        else:
            contacts.skipped.append(made)
    return contacts


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """The CSV dialect of the header line: `,` unless it is plainly `;`, a tab or `|`."""
    first = text.split("\n", 1)[0]
    if "," in first:
        return csv.excel
    try:
        return csv.Sniffer().sniff(first, delimiters=";\t|")
    except csv.Error:
        return csv.excel


def _rows(reader: Reader, offset: int, contacts: Contacts) -> Iterator[tuple[int, list[str]]]:
    """Each row with the line it starts on; a row that breaks CSV is skipped with why."""
    while True:
        line = offset + reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            contacts.skipped.append(Skipped(line, f"not CSV ({exc})"))
            if offset + reader.line_num + 1 == line:
                return  # nothing was read: the rest cannot be either
            continue
        yield line, row


def _columns(header: list[str], mapping: dict[str, str]) -> dict[str, int]:
    """Which column holds each field: as mapped, else found by a usual name."""
    columns: dict[str, int] = {}
    for name, column in mapping.items():
        index = _index(header, column)
        if index is None:
            shown = ", ".join(repr(h) for h in header[:20])
            raise ContactsRefused(
                f"--map {name}={column}: no column {column!r} (there are: {shown})"
            )
        columns[name] = index
    normalized = [_normal(h) for h in header]
    for name, usual in HEADERS.items():
        if name not in columns:
            found = next((i for i, h in enumerate(normalized) if h in usual), None)
            if found is not None:
                columns[name] = found
    if not {"name", "first_name", "last_name", "organization"} & columns.keys():
        raise ContactsRefused(
            "no column holds a name: map one, e.g. --map name='Full Name' "
            f"(the columns are: {', '.join(repr(h) for h in header[:20])})"
        )
    return columns


def _normal(header: str) -> str:
    """A column name as lower-case letters and digits."""
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _index(header: list[str], column: str) -> int | None:
    """The index of a column, by its exact name or ignoring case and spaces."""
    if column in header:
        return header.index(column)
    wanted = _normal(column)
    return next((i for i, h in enumerate(header) if _normal(h) == wanted), None)


def _cell(row: list[str], index: int | None) -> str:
    """A cell's text, stripped (a missing cell is empty)."""
    return row[index].strip() if index is not None and index < len(row) else ""


def contact_of(line: int, cells: dict[str, str]) -> Contact | Skipped:
    """A contact from the fields of one row or card, or why there is none."""
    name = cells.get("name") or " ".join(
        part for part in (cells.get("first_name"), cells.get("last_name")) if part
    )
    organization = cells.get("organization") or None
    kind = KINDS.get((cells.get("kind") or "person").strip().lower())
    if kind is None:
        return Skipped(line, f"kind: {cells['kind']!r} is not person or organization", name)
    if not name and organization:
        name, kind = organization, "organization"
    if not name:
        return Skipped(line, "no name (nor an organization to name it by)")
    connected_on = None
    if cells.get("connected_on"):
        connected_on = parse_day(cells["connected_on"])
        if connected_on is None:
            why = (
                f"connected on: {cells['connected_on']!r} is not a date (2023-03-12 or 12 Mar 2023)"
            )
            return Skipped(line, why, name)
    return Contact(
        line=line,
        name=" ".join(name.split()),
        organization=organization,
        email=cells.get("email") or None,
        tags=split_tags(cells.get("tags") or ""),
        kind=kind,
        owner=cells.get("owner") or None,
        connected_on=connected_on,
        profile=cells.get("profile") or None,
    )


def parse_day(text: str) -> date | None:
    """A calendar day written as 2023-03-12, 12 Mar 2023 or 12 March 2023 (else None)."""
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    return None


def split_tags(text: str) -> tuple[str, ...]:
    """Tags separated by `;`, `,` or `|`, each once, in their order."""
    tags = (tag.strip() for tag in TAG_SEPARATORS.split(text))
    return tuple(dict.fromkeys(tag for tag in tags if tag))
