"""The dashboard's list pages as HTML: relationships, search, due, proposals and Today.

Real nats-server, real projection services, the gateway in this event loop. Expected rows
are written out by hand from the seed below, not derived by the code under test.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from services.gateway.dashboard import lists, routes
from tests.factories import event
from tests.publishing import ask, publish

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

NOW = datetime.now(UTC)

# (id, owner, counterpart, days since the last touch, stage moves)
PEOPLE: list[tuple[str, str, dict[str, Any], float | None, list[dict[str, Any]]]] = [
    (
        "ada",
        "maria@example.com",
        {
            "name": "Ada Lovelace",
            "organization": "Analytical Engines",
            "email": "ada@engines.example",
            "tags": ["math"],
        },
        20,  # connection expects a touch every 7 days: 13 days overdue
        [],
    ),
    (
        "bob",
        "li@example.com",
        {"name": "Bjørn Ólafsson", "organization": "Northwind Labs"},
        3.5,  # due in three and a half days: later this week
        [],
    ),
    (
        "cy",
        "maria@example.com",
        {"name": "Cy Lovegrove", "kind": "organization"},
        1,  # awareness expects 10 days: due in 9, not this week
        [{"to": "awareness"}],
    ),
    (
        "dee",
        "maria@example.com",
        {"name": "Dee Lovett"},
        40,  # long overdue, but closed: never due
        [{"to": "closed", "reason": "moved abroad"}],
    ),
]


async def seed(nc: NATS) -> int:
    """The people above, with their touches and stage moves, relative to now."""
    last = 0
    for rel, owner, counterpart, touched, moves in PEOPLE:
        opened = NOW - timedelta(days=60)
        data = {"owner": owner, "counterpart": counterpart}
        last = await publish(nc, event("connection.made", rel, data, at=opened))
        for move in moves:
            last = await publish(
                nc, event("stage.changed", rel, move, at=opened + timedelta(days=1))
            )
        if touched is not None:
            at = NOW - timedelta(days=touched)
            last = await publish(nc, event("interaction.recorded", rel, at=at))
    for number, rel in enumerate(("ada", "ada", "bob")):
        data = {"proposal_id": f"p-{number}", "title": f"Proposal {number}"}
        last = await publish(
            nc, event("proposal.drafted", rel, data, at=NOW - timedelta(days=number + 1))
        )
    return last


async def applied(nc: NATS, seq: int) -> None:
    """Every projection has applied `seq`."""
    for subject in ("stage.owners", "health.summary", "proposals.pending"):
        reply = await ask(nc, subject, min_seq=seq, wait_ms=10_000)
        assert "error" not in reply, reply


def listed(page: httpx.Response) -> list[str]:
    """The relationship ids a list page links to, in the order shown."""
    assert page.status_code == 200, page.text
    return re.findall(
        r'<td data-label="(?:Name|Relationship|Who)"><a href="/relationships/([^"]+)"', page.text
    )


@pytest.fixture
async def http(nc: NATS, gateway: str) -> Any:
    await applied(nc, await seed(nc))
    async with httpx.AsyncClient(base_url=gateway, headers={"accept": "text/html"}) as client:
        yield client


async def test_relationships_list_every_one_with_its_details(http: httpx.AsyncClient) -> None:
    page = await http.get("/relationships")
    assert listed(page) == ["ada", "bob", "cy", "dee"]  # id order
    text = page.text
    for shown in ("Ada Lovelace", "Analytical Engines", "Northwind Labs", "li@example.com"):
        assert shown in text
    assert 'class="badge band-' in text  # health
    assert "closed: not scored" in text  # dee is in no band
    assert listed(await http.get("/relationships", params={"stage": "awareness"})) == ["cy"]
    assert listed(await http.get("/relationships", params={"level": "closed"})) == ["dee"]
    of_li = await http.get("/relationships", params={"owner": "li@example.com"})
    assert listed(of_li) == ["bob"]
    assert listed(await http.get("/relationships", params={"q": "love"})) == ["ada", "cy", "dee"]


async def test_columns_sort_the_rows_of_a_page(http: httpx.AsyncClient) -> None:
    by_name = await http.get("/relationships", params={"sort": "name"})
    assert listed(by_name) == ["ada", "bob", "cy", "dee"]  # Ada, Bjørn, Cy, Dee
    assert 'aria-sort="ascending"' in by_name.text
    assert 'href="/relationships?sort=-name"' in by_name.text  # a second click: descending
    assert listed(await http.get("/relationships", params={"sort": "-name"})) == [
        "dee", "cy", "bob", "ada"
    ]  # fmt: skip
    by_stage = await http.get("/relationships", params={"sort": "-stage"})
    assert listed(by_stage) == ["dee", "cy", "ada", "bob"]  # closed, awareness, connection
    unknown = await http.get("/relationships", params={"sort": "shoe size"})
    assert listed(unknown) == ["ada", "bob", "cy", "dee"]


async def test_next_page_links_lead_to_the_rest(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lists, "PAGE", 3)
    first = await http.get("/relationships")
    assert listed(first) == ["ada", "bob", "cy"]
    [href] = re.findall(r'id="next-page" rel="next" href="([^"]+)"', first.text)
    second = await http.get(href.replace("&amp;", "&"))
    assert listed(second) == ["dee"]
    assert 'id="next-page"' not in second.text
    assert 'href="/relationships">First page' in second.text


async def test_search_lists_matches_or_opens_the_one_found(http: httpx.AsyncClient) -> None:
    several = await http.get("/search", params={"q": "LOVE"})
    assert listed(several) == ["ada", "cy", "dee"]
    assert 'value="LOVE"' in several.text  # the header's box keeps the words
    one = await http.get("/search", params={"q": "olaf"})  # accents ignored
    assert one.status_code == 303
    assert one.headers["location"] == "/relationships/bob"
    by_email = await http.get("/search", params={"q": "engines.example"}, follow_redirects=True)
    assert str(by_email.url).endswith("/relationships/ada")
    assert "ada@engines.example" in by_email.text
    nobody = await http.get("/search", params={"q": "zebra"})
    assert listed(nobody) == []
    assert "Nobody matches" in nobody.text
    blank = await http.get("/search")
    assert blank.status_code == 200
    assert "Type words in the search box" in blank.text


async def test_search_words_without_a_letter_get_a_notice_not_an_error(
    http: httpx.AsyncClient,
) -> None:
    for words in ("!!", "-- ..."):
        page = await http.get("/search", params={"q": words})
        assert page.status_code == 200
        assert 'class="notice"' in page.text
        assert "at least one letter or digit" in page.text
        assert 'class="problem"' not in page.text


async def test_due_lists_the_overdue_most_overdue_first(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = await http.get("/due")
    assert listed(now) == ["ada"]  # dee is closed; bob and cy are not due yet
    assert "13 days" in now.text
    week = await http.get("/due", params={"by": (NOW + timedelta(days=5)).date().isoformat()})
    assert listed(week) == ["ada", "bob"]
    bad = await http.get("/due", params={"by": "someday"})
    assert "is not a date" in bad.text
    assert listed(bad) == ["ada"]
    monkeypatch.setattr(lists, "PAGE", 1)
    first = await http.get("/due", params={"by": (NOW + timedelta(days=5)).date().isoformat()})
    assert listed(first) == ["ada"]
    [href] = re.findall(r'id="next-page" rel="next" href="([^"]+)"', first.text)
    assert listed(await http.get(href.replace("&amp;", "&"))) == ["bob"]


async def test_proposals_page_by_status_and_owner(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = await http.get("/proposals")
    assert pending.text.count('data-label="Proposal"') == 3
    assert "Ada Lovelace" in pending.text  # the relationship by its name
    of_li = await http.get("/proposals", params={"owner": "li@example.com"})
    assert of_li.text.count('data-label="Proposal"') == 1
    accepted = await http.get("/proposals", params={"status": "accepted"})
    assert "No proposal is accepted" in accepted.text
    monkeypatch.setattr(lists, "PROPOSALS_PAGE", 2)
    first = await http.get("/proposals")
    assert first.text.count('data-label="Proposal"') == 2
    assert "page 1 of 2" in first.text
    second = await http.get("/proposals", params={"page": "2"})
    assert second.text.count('data-label="Proposal"') == 1
    shown = set(re.findall(r'data-label="Proposal">(Proposal \d)', first.text + second.text))
    assert shown == {"Proposal 0", "Proposal 1", "Proposal 2"}
    past_the_end = await http.get("/proposals", params={"page": "99999999999999"})
    assert past_the_end.status_code == 200


async def test_the_overviews_more_links_lead_to_the_lists(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "PROPOSAL_ROWS", 1)
    overview = await http.get("/")
    [more] = re.findall(
        r'<a id="more-proposals" href="([^"]+)">and (\d+) more pending</a>', overview.text
    )
    assert more == ("/proposals", "2")
    assert (await http.get(more[0])).text.count('data-label="Proposal"') == 3


async def test_today_lists_who_is_due_this_week_with_what_to_do(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/today")
    today, _, week = page.text.partition('id="week-title"')
    assert listed(httpx.Response(200, text=today)) == ["ada"]
    assert listed(httpx.Response(200, text=week)) == ["bob"]  # not cy (9 days), never dee
    assert "no contact for 20 days" in today  # why
    assert "rapport log ada " in today  # what to do, and how to record it
    assert "for everyone" in page.text


async def test_today_remembers_the_owner_picked(http: httpx.AsyncClient) -> None:
    picked = await http.get("/today", params={"owner": "li@example.com"})
    assert "rapport_owner" in picked.headers["set-cookie"]
    assert listed(picked) == ["bob"]
    again = await http.get("/today")  # the client keeps the cookie
    assert '<option value="li@example.com" selected>' in again.text
    assert listed(again) == ["bob"]
    everyone = await http.get("/today", params={"owner": ""})
    assert listed(everyone) == ["ada", "bob"]
    assert listed(await http.get("/today")) == ["ada", "bob"]  # forgotten


async def test_a_relationship_page_shows_the_contact(http: httpx.AsyncClient) -> None:
    page = await http.get("/relationships/ada")
    assert page.status_code == 200
    contact = page.text.partition('id="contact"')[2].partition("</section>")[0]
    assert '<a href="mailto:ada@engines.example">ada@engines.example</a>' in contact
    assert "Analytical Engines" in contact
    assert ">person<" in contact
    assert 'href="/relationships?q=math"' in contact  # a tag finds its peers
    organization = await http.get("/relationships/cy")
    assert ">organization<" in organization.text
