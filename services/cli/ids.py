"""Relationship ids made for people: a slug of the name and a suffix (`ada-lovelace-3f9a2c`).

`rapport new` draws the suffix at random; `rapport import` derives it (and the event id) from
who the contact is, so importing the same contact again names the same relationship.
Every id matches the contract's pattern `^[A-Za-z0-9_-]{1,128}$`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata

SLUG_LENGTH = 24  # an id stays short enough to read, type and show in an 80-column table
NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """The name in lower-case ASCII words joined by `-` (accents dropped), or `rel`."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    words = NOT_SLUG.sub("-", plain.lower()).strip("-")
    return words[:SLUG_LENGTH].rstrip("-") or "rel"


def new_relationship_id(name: str) -> str:
    """A fresh id for a relationship with this counterpart: slug and 6 random hex digits."""
    return f"{slug(name)}-{secrets.token_hex(3)}"


def identity_key(
    name: str, organization: str | None, email: str | None, profile: str | None = None
) -> str:
    """Who a contact is, for de-duplication: the email, else a profile URL, else name+org."""
    if email:
        return f"email:{email.strip().casefold()}"
    if profile:
        return f"profile:{profile.strip().casefold().rstrip('/')}"
    return f"name:{_plain(name)}|{_plain(organization or '')}"


def _plain(text: str) -> str:
    """Text compared without case or extra spaces."""
    return " ".join(text.casefold().split())


def digest(key: str, length: int) -> str:
    """The first `length` hex digits of the key's SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:length]


def imported_relationship_id(name: str, key: str) -> str:
    """The id an imported contact's relationship gets: the same for the same contact."""
    return f"{slug(name)}-{digest(key, 8)}"


def imported_event_id(key: str) -> str:
    """The id of the `connection.made` an import sends for a contact: the same every time."""
    return f"import-{digest(key, 32)}"
