"""What `rapport import` does with each contact: open it, leave it (already there), or skip it.

Each contact's relationship id and event id come from who it is (its email, else its LinkedIn
profile, else its name and organization), so a second import names the same events: what is
stored already, by id or by email, is left alone and counted as "already there".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

from services.cli.asking import every_item
from services.cli.contacts import (
    Contact,
    Contacts,
    Skipped,
    decode,
    guess_format,
    read_csv,
    read_linkedin,
)
from services.cli.ids import identity_key, imported_event_id, imported_relationship_id
from services.cli.writing import event, problems

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS

    from services.config.settings import Settings

FIELD_NAMES = {
    "data.counterpart.name": "name",
    "data.counterpart.email": "email",
    "data.counterpart.organization": "organization",
    "data.counterpart.tags": "tags",
    "data.counterpart.kind": "kind",
    "data.owner": "owner",
    "time": "connected on",
}


@dataclass(slots=True)
class Plan:
    """What an import does with each contact."""

    create: list[tuple[Contact, dict[str, Any]]] = field(default_factory=list)
    there: list[tuple[Contact, str]] = field(default_factory=list)  # and the id holding it
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Stored:
    """What Rapport holds already: relationship ids, and emails with their relationship."""

    ids: frozenset[str]
    emails: dict[str, str]


def read_file(path: Path, fmt: str | None, mapping: dict[str, str]) -> Contacts:
    """The contacts in a file, in the format given or guessed."""
    text = decode(path.read_bytes())
    chosen = fmt or guess_format(path.name, text)
    if chosen == "vcard":
        from services.cli.vcards import read_vcards  # vobject loads only when it is needed

        return read_vcards(text)
    if chosen == "linkedin":
        return read_linkedin(text)
    return read_csv(text, mapping)


def plan(contacts: Contacts, owner: str | None, stored: Stored, channel: str | None) -> Plan:
    """Sort contacts: new ones (with their event), already stored ones, and skipped ones."""
    result = Plan(skipped=list(contacts.skipped))
    seen: dict[str, int] = {}
    # one import is one instant: contacts without a date are all met "now", the same now
    now = datetime.now(UTC).replace(microsecond=0)
    for contact in contacts.found:
        key = identity_key(contact.name, contact.organization, contact.email, contact.profile)
        if key in seen:
            said = "email" if contact.email else "person"
            result.skipped.append(
                Skipped(contact.line, f"same {said} as line {seen[key]}", contact.name)
            )
            continue
        seen[key] = contact.line
        relationship_id = imported_relationship_id(contact.name, key)
        holder = stored.emails.get(contact.email.casefold()) if contact.email else None
        if holder is None and relationship_id in stored.ids:
            holder = relationship_id
        if holder is not None:
            result.there.append((contact, holder))
            continue
        if not (contact.owner or owner):
            why = "no owner: give --owner, or map an owner column"
            result.skipped.append(Skipped(contact.line, why, contact.name))
            continue
        envelope = handshake(contact, relationship_id, key, contact.owner or owner, channel, now)
        wrong = problems(envelope, FIELD_NAMES)
        if wrong:
            result.skipped.append(Skipped(contact.line, "; ".join(wrong), contact.name))
        else:
            result.create.append((contact, envelope))
    result.skipped.sort(key=lambda skipped: skipped.line)
    return result


def handshake(
    contact: Contact,
    relationship_id: str,
    key: str,
    owner: str | None,
    channel: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The `connection.made` that opens a contact's relationship, with its derived id."""
    counterpart: dict[str, Any] = {"name": contact.name, "kind": contact.kind}
    if contact.organization:
        counterpart["organization"] = contact.organization
    if contact.email:
        counterpart["email"] = contact.email
    if contact.tags:
        counterpart["tags"] = list(contact.tags)
    data: dict[str, Any] = {"owner": owner, "counterpart": counterpart}
    if channel:
        data["channel"] = channel
    at = datetime.combine(contact.connected_on, time(12), UTC) if contact.connected_on else now
    return event("connection.made", relationship_id, data, at=at, event_id=imported_event_id(key))


async def stored_now(nc: NATS, settings: Settings) -> Stored:
    """Every relationship id and counterpart email Rapport holds (one pass over the list)."""
    ids: set[str] = set()
    emails: dict[str, str] = {}
    async for item in every_item(nc, settings, "stage", "list", {}):
        ids.add(item["relationship_id"])
        email = (item.get("counterpart") or {}).get("email")
        if isinstance(email, str):
            emails.setdefault(email.casefold(), item["relationship_id"])
    return Stored(frozenset(ids), emails)
