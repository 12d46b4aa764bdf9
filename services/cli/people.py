"""`rapport new NAME` and `rapport log WHO KIND`: open a relationship, record a touch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

import typer

from events.data import INTERACTION_KINDS
from services.cli.asking import QueryFailed, connected, emit_json, every_item, run_query
from services.cli.common import DataDir, Json, NatsUrl, app, console, fail, load_settings
from services.cli.config import configured_owner
from services.cli.find import RELATIONSHIP_ID, Who, exists, matches_table, refusal, resolve
from services.cli.ids import new_relationship_id
from services.cli.writing import Refused, caught_up, event, parse_time, problems, send
from services.config.settings import Settings

KINDS = ("person", "organization")
EMAIL_SEARCH = 200  # the longest search the stage service takes; a prefix still matches
NEW_OPTIONS = {
    "data.counterpart.name": "NAME",
    "data.counterpart.email": "--email",
    "data.counterpart.organization": "--org",
    "data.counterpart.tags": "--tag",
    "data.counterpart.kind": "--kind",
    "data.owner": "--owner",
    "data.purpose": "--purpose",
}
LOG_OPTIONS = {
    "data.kind": "KIND",
    "data.notes": "--note",
    "data.sentiment": "--sentiment",
    "time": "--at",
    "subject": "WHO",
}
MUTUAL_KINDS = ("meeting", "event")  # both sides are there: mutual unless said otherwise


@dataclass(frozen=True, slots=True)
class Opened:
    """What `new` did: the relationship it opened, or the one that has the email already."""

    relationship_id: str
    seq: int | None = None  # None: not opened, `existing` has the email
    existing: dict[str, Any] | None = None


async def holder_of(nc: Any, settings: Settings, email: str) -> dict[str, Any] | None:
    """The relationship whose counterpart has this email (case aside), if one does."""
    wanted = email.casefold()
    try:
        async for item in every_item(nc, settings, "stage", "list", {"q": email[:EMAIL_SEARCH]}):
            held = (item.get("counterpart") or {}).get("email")
            if isinstance(held, str) and held.casefold() == wanted:
                return item
    except QueryFailed as exc:
        if refusal(exc) is None:
            raise  # an email with no word in it cannot be searched, nor held by a match
    return None


async def open_relationship(
    settings: Settings, envelope: dict[str, Any], email: str | None
) -> Opened:
    """Send the handshake unless its email is held already; a drawn id already used is redrawn."""
    async with connected(settings) as nc:
        if email:
            held = await holder_of(nc, settings, email)
            if held is not None:
                return Opened(held["relationship_id"], existing=held)
        name = envelope["data"]["counterpart"]["name"]
        while await exists(nc, settings, envelope["subject"]) is not None:
            envelope["subject"] = new_relationship_id(name)
        entry = await send(nc, settings, envelope)
        await caught_up(nc, settings, "stage", entry["seq"])
    return Opened(envelope["subject"], seq=entry["seq"])


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="the counterpart's name")],
    org: Annotated[str | None, typer.Option("--org", help="their organization")] = None,
    email: Annotated[str | None, typer.Option("--email", help="their email")] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="who holds it (default: `rapport config owner`)")
    ] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", help="a tag (repeat for more)")] = None,
    kind: Annotated[str, typer.Option("--kind", help="person or organization")] = "person",
    purpose: Annotated[str | None, typer.Option("--purpose", help="why you keep it")] = None,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Open a relationship: the id is made for you and printed."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir, owner=owner)
    if kind not in KINDS:
        fail(f"--kind: {kind!r} is not one of {', '.join(KINDS)}", 2)
    holder = configured_owner(settings)
    if not holder:
        fail("--owner: say whose relationship it is (or once: rapport config owner EMAIL)", 2)
    counterpart: dict[str, Any] = {"name": name.strip() or name, "kind": kind}
    counterpart.update({k: v for k, v in (("organization", org), ("email", email)) if v})
    if tags:
        counterpart["tags"] = tags
    data: dict[str, Any] = {"owner": holder, "counterpart": counterpart}
    if purpose:
        data["purpose"] = purpose
    envelope = event("connection.made", new_relationship_id(name), data)
    wrong = problems(envelope, NEW_OPTIONS)
    if wrong:
        fail("; ".join(wrong), 2)
    opened = run_query(open_relationship(settings, envelope, email))
    if opened.existing is not None:
        if as_json:
            emit_json({"refused": "email already held", "existing": opened.existing})
        fail(
            f"{email} is already there: {opened.relationship_id} "
            f"({opened.existing['counterpart']['name']}); see it with "
            f"`rapport show {opened.relationship_id}`, or log a touch with "
            f"`rapport log {opened.relationship_id} KIND`"
        )
    if as_json:
        emit_json({"relationship_id": opened.relationship_id, "seq": opened.seq, "event": envelope})
        return
    console.print(f"opened [bold]{opened.relationship_id}[/]: {name}", highlight=False)
    console.print(f"log a touch: rapport log {opened.relationship_id} call --out", highlight=False)


@dataclass(frozen=True, slots=True)
class Logged:
    """What `log` did: the touch it recorded, or the matches that made WHO ambiguous."""

    who: Who
    relationship_id: str | None = None
    name: str | None = None
    entry: dict[str, Any] | None = None


async def log_touch(
    settings: Settings, who: str, envelope: dict[str, Any], open_new: bool
) -> Logged:
    """Find WHO, then record the touch; the matches when WHO names none or several."""
    async with connected(settings) as nc:
        found = await resolve(nc, settings, who)
        one = found.one
        if one is None and not (open_new and not found.matches and not found.more):
            return Logged(found)
        relationship_id = one["relationship_id"] if one else who
        envelope["subject"] = relationship_id
        entry = await send(nc, settings, envelope)
        await caught_up(nc, settings, "health", entry["seq"])
    name = (one.get("counterpart") or {}).get("name") if one else None
    return Logged(found, relationship_id, name, entry)


def direction_of(kind: str, inbound: bool, outbound: bool, mutual: bool) -> str:
    """The direction said, or the usual one: mutual for a meeting or event, else outbound."""
    said = [
        name
        for name, on in (("inbound", inbound), ("outbound", outbound), ("mutual", mutual))
        if on
    ]
    if len(said) > 1:
        fail("--in, --out, --mutual: give one of them", 2)
    if said:
        return said[0]
    return "mutual" if kind in MUTUAL_KINDS else "outbound"


@app.command()
def log(
    who: Annotated[str, typer.Argument(help="a relationship id, or words that name one")],
    kind: Annotated[str, typer.Argument(help=f"{', '.join(INTERACTION_KINDS)}")],
    inbound: Annotated[bool, typer.Option("--in", help="they reached out")] = False,
    outbound: Annotated[bool, typer.Option("--out", help="we reached out")] = False,
    mutual: Annotated[bool, typer.Option("--mutual", help="both sides")] = False,
    note: Annotated[str | None, typer.Option("--note", help="what was said")] = None,
    sentiment: Annotated[
        float | None, typer.Option("--sentiment", help="tone, from -1 (bad) to 1 (good)")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="when (RFC 3339 or a date; default: now)")
    ] = None,
    open_new: Annotated[
        bool, typer.Option("--new", help="WHO is a new id: open it with this touch")
    ] = False,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Record a touch: a meeting, call, email… with someone, in one line."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    if kind not in INTERACTION_KINDS:
        fail(f"KIND: {kind!r} is not one of {', '.join(INTERACTION_KINDS)}", 2)
    data: dict[str, Any] = {
        "kind": kind,
        "direction": direction_of(kind, inbound, outbound, mutual),
    }
    if sentiment is not None:
        data["sentiment"] = sentiment
    if note:
        data["notes"] = note
    try:
        when = parse_time(at, "--at") if at else None
    except Refused as exc:
        fail(str(exc), 2)
    envelope = event("interaction.recorded", "placeholder", data, at=when)
    wrong = problems(envelope, LOG_OPTIONS)
    if wrong:
        fail("; ".join(wrong), 2)
    if open_new and not RELATIONSHIP_ID.match(who):
        fail("WHO: with --new, WHO is the id to open: 1-128 letters, digits, '_' or '-'", 2)
    logged = run_query(log_touch(settings, who, envelope, open_new))
    if logged.entry is None:
        _not_one(who, logged.who, as_json)
    if as_json:
        emit_json(
            {
                "relationship_id": logged.relationship_id,
                "name": logged.name,
                **(logged.entry or {}),
                "event": envelope,
            }
        )
        return
    with_whom = (
        f"{logged.name} ({logged.relationship_id})" if logged.name else logged.relationship_id
    )
    article = "an" if kind[0] in "aeiou" else "a"
    console.print(
        f"logged {article} {kind} ({data['direction']}) with {with_whom}, "
        f"seq {logged.entry['seq']}",
        highlight=False,
    )


def _not_one(who: str, found: Who, as_json: bool) -> NoReturn:
    """WHO names several relationships (list them) or none: stop with exit code 1."""
    if found.refused and not RELATIONSHIP_ID.match(who):
        fail(f"WHO: {found.refused}", 2)
    if as_json:
        emit_json(
            {"error": "ambiguous" if found.matches else "not_found", "matches": found.matches}
        )
    if found.matches:
        if not as_json:
            console.print(matches_table(found.matches))
        count = f"{len(found.matches)}{' or more' if found.more else ''}"
        fail(f"“{who}” matches {count} relationships: say which by id, as listed above")
    fail(
        f"no relationship is “{who}”: find one with `rapport find WORDS`, open one with "
        f"`rapport new NAME`, or add --new to open the id {who} with this touch"
    )
