"""A long history read newest first, a page at a time: every stored message once, in order."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx
import pytest

from events.reading import Copy
from services.gateway.dashboard.routes import LONG_HISTORY
from services.nats.log_reader import DirectReader
from services.queries.history import identity_over_nats, newest_page, read_relationship
from tests.factories import event
from tests.publishing import ask, publish, publish_all

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from events.reading import Reading


def note(number: int) -> dict[str, object]:
    """An interaction whose notes name it."""
    return {"kind": "call", "direction": "inbound", "sentiment": 0.1, "notes": f"touch-{number}"}


async def long_history(nc: NATS, touches: int) -> int:
    """`ada`'s handshake and touches, among other relationships' events, and one stored copy
    of an event twice; the last sequence."""
    envelopes = [event("connection.made", "ada", days=0)]
    for number in range(touches):
        envelopes.append(event("interaction.recorded", "ada", note(number), days=1 + number / 10))
        if number % 3 == 0:
            envelopes.append(event("interaction.recorded", f"other-{number % 7}", days=number))
    await publish_all(nc, envelopes)
    # the same event stored again (another message id): read as a copy of the first
    return await publish(nc, envelopes[5], msg_id="again")


@pytest.mark.usefixtures("services")
async def test_pages_newest_first_give_every_message_once_in_order(nc: NATS) -> None:
    last = await long_history(nc, 95)
    await ask(nc, "health.get", relationship_id="ada", min_seq=last)  # the index has read it all
    reader = DirectReader(nc)
    first_copies = identity_over_nats(nc, 5)
    try:
        everything = await read_relationship(reader, "ada", first_copies)
        assert len(everything) == 97
        assert any(isinstance(reading, Copy) for reading in everything)
        for limit in (1, 7, 50, 96, 97, 500):
            pages: list[list[Reading]] = []
            before: int | None = None
            for _ in range(200):  # bounded: 97 pages at most
                page, older, count = await newest_page(reader, "ada", before, limit, first_copies)
                assert len(page) == min(limit, 97) or older is None
                assert count == 97 - sum(len(done) for done in pages)
                pages.insert(0, page)
                if older is None:
                    break
                assert older == page[0].seq
                before = older
            paged = [reading for page in pages for reading in page]
            assert [r.seq for r in paged] == [r.seq for r in everything], limit
            assert [type(r) for r in paged] == [type(r) for r in everything], limit
        assert await newest_page(reader, "nobody", None, 10, first_copies) == ([], None, 0)
        # one type of event: the interactions alone, newest first, page by page
        touches = [r.seq for r in everything if r.message.subject.endswith(".recorded")]
        cursor: int | None = None
        paged_touches: list[int] = []
        for _ in range(100):  # bounded: 10 pages of 10
            page, cursor, _ = await newest_page(
                reader, "ada", cursor, 10, first_copies, "rapport.interaction.recorded"
            )
            paged_touches[:0] = [r.seq for r in page]
            if cursor is None:
                break
        assert paged_touches == touches
    finally:
        await reader.close()


@pytest.mark.usefixtures("services")
async def test_the_relationship_page_links_to_older_interactions(nc: NATS, gateway: str) -> None:
    last = await long_history(nc, 230)
    await ask(nc, "health.get", relationship_id="ada", min_seq=last)
    shown: list[int] = []
    path: str | None = "/relationships/ada"
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        for _ in range(10):  # bounded: three pages of a hundred messages
            if path is None:
                break
            page = await client.get(path)
            assert page.status_code == 200, page.text
            assert "could not be read" not in page.text
            numbers = [int(n) for n in re.findall(r"touch-(\d+)", page.text)]
            assert numbers == sorted(numbers, reverse=True)  # newest first within a page
            shown.extend(numbers)
            link = re.search(r'id="older-touches" href="([^"]+)"', page.text)
            path = link.group(1).replace("&amp;", "&") if link else None
        assert path is None
    # every interaction once (the stored copy is shown once: it is a copy)
    assert shown == list(range(229, -1, -1))


@pytest.mark.usefixtures("services")
async def test_a_long_history_leaves_its_stage_timeline_to_the_audit_page(
    nc: NATS, gateway: str
) -> None:
    last = await long_history(nc, LONG_HISTORY + 1)
    await ask(nc, "health.get", relationship_id="ada", min_seq=last)
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        page = await client.get("/relationships/ada")
    assert page.status_code == 200
    assert 'id="long-timeline" href="/relationships/ada/audit"' in page.text
    assert 'id="timeline"' not in page.text
    assert f"touch-{LONG_HISTORY}" in page.text  # the newest interactions are listed
    assert "Health over the last year" in page.text
    assert "The health history is unavailable" not in page.text
