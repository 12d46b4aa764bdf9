"""Contacts from vCard files (`.vcf`, vCard 2.1, 3.0 and 4.0), read with `vobject`.

The file is cut into cards here (`BEGIN:VCARD` … `END:VCARD`), so each card is parsed alone:
a card `vobject` cannot read is skipped with why, and the others are still read.
"""

from __future__ import annotations

from typing import Any

import vobject  # type: ignore[import-untyped]  # no type information shipped

from services.cli.contacts import Contact, Contacts, Skipped, contact_of


def cards(text: str) -> list[tuple[int, str]]:
    """Each card's text with the line it begins on; an unclosed last card is kept as it is."""
    found: list[tuple[int, str]] = []
    start: int | None = None
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        word = line.strip().upper()
        if word == "BEGIN:VCARD":
            start, lines = number, []
        if start is not None:
            lines.append(line)
        if word == "END:VCARD" and start is not None:
            found.append((start, "\r\n".join(lines) + "\r\n"))
            start = None
    if start is not None:
        found.append((start, "\r\n".join(lines)))
    return found


def read_vcards(text: str) -> Contacts:
    """Every card of a vCard file as a contact, or skipped with why."""
    contacts = Contacts()
    for line, card in cards(text):
        made = read_card(line, card)
        if isinstance(made, Contact):
            contacts.found.append(made)
        else:
            contacts.skipped.append(made)
    return contacts


def read_card(line: int, card: str) -> Contact | Skipped:
    """One card as a contact."""
    if not card.rstrip().upper().endswith("END:VCARD"):
        return Skipped(line, "the card has no END:VCARD")
    try:
        parsed = vobject.readOne(card)
        cells = card_cells(parsed)
    except Exception as exc:  # outside text: whatever vobject raises about it is a refusal
        return Skipped(line, f"not a vCard ({' '.join(str(exc).split())[:200]})")
    return contact_of(line, cells)


def card_cells(card: Any) -> dict[str, str]:
    """The fields Rapport keeps, from a parsed card, as text."""
    contents: dict[str, list[Any]] = card.contents
    cells = {"name": _text(contents, "fn")}
    if not cells["name"] and "n" in contents:
        name = contents["n"][0].value
        cells["name"] = " ".join(
            part for part in (_joined(name.given), _joined(name.family)) if part
        )
    organization = contents.get("org", [None])[0]
    if organization is not None:
        value = organization.value
        cells["organization"] = str(value[0] if isinstance(value, list) and value else value)
    cells["email"] = _preferred_email(contents.get("email", []))
    categories = contents.get("categories", [])
    cells["tags"] = ";".join(str(tag) for entry in categories for tag in _listed(entry.value))
    if (
        _text(contents, "kind").lower() == "org"
        or _text(contents, "x-abshowas").upper() == "COMPANY"
    ):
        cells["kind"] = "organization"
    return cells


def _text(contents: dict[str, list[Any]], key: str) -> str:
    """The first value of a property as text (or empty)."""
    entries = contents.get(key)
    if not entries:
        return ""
    value = entries[0].value
    return " ".join(str(value).split()) if isinstance(value, str) else ""


def _joined(part: Any) -> str:
    """A part of a structured name (text or a list of text) as text."""
    return " ".join(part) if isinstance(part, list) else str(part or "")


def _listed(value: Any) -> list[Any]:
    """A property's value as a list."""
    return value if isinstance(value, list) else [value]


def _preferred_email(entries: list[Any]) -> str:
    """The email marked preferred (vCard 3 `TYPE=pref`, vCard 4 `PREF=1`), else the first."""
    for entry in entries:
        params = {
            key.upper(): [str(v).lower() for v in values] for key, values in entry.params.items()
        }
        if "pref" in params.get("TYPE", []) or params.get("PREF") == ["1"]:
            return str(entry.value).strip()
    return str(entries[0].value).strip() if entries else ""
