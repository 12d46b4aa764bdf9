"""Finding people: `q` words against name, organization, email and tags; owners by email or name.

Through the real stage service over NATS, and through the gateway over HTTP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from services.projection.registry import SPECS
from services.projection.service import ProjectionService
from tests.conftest import running_gateway
from tests.factories import event
from tests.publishing import ask, publish

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings

PEOPLE: list[tuple[str, str, dict[str, Any]]] = [
    (
        "r-ada",
        "maria@example.com",
        {
            "name": "Ada Lovelace",
            "organization": "Analytical Engines Ltd",
            "email": "ada@engines.example",
            "tags": ["math", "poetry"],
        },
    ),
    ("r-zoe", "maria@example.com", {"name": "Zoë Østergård", "tags": ["design"]}),
    ("r-alan", "li@example.com", {"name": "Alan Turing", "organization": "Bletchley Park"}),
    ("r-grace", "li", {"name": "Grace Hopper", "email": "grace@navy.example"}),
    ("r-lena", "marian@example.com", {"name": "Lena Adams", "kind": "person"}),
]


async def seed(nc: NATS) -> int:
    last = 0
    for rel, owner, counterpart in PEOPLE:
        data = {"owner": owner, "counterpart": counterpart}
        last = await publish(nc, event("connection.made", rel, data, days=0))
    return last


async def found(nc: NATS, **query: Any) -> list[str]:
    reply = await ask(nc, "stage.list", **query)
    assert "error" not in reply, reply
    return [item["relationship_id"] for item in reply["items"]]


@pytest.mark.usefixtures("services")
async def test_words_match_as_prefixes_of_name_organization_email_and_tags(nc: NATS) -> None:
    last = await seed(nc)
    assert await found(nc, q="ada", min_seq=last) == ["r-ada", "r-lena"]  # Ada, Adams
    assert await found(nc, q="Love ADA") == ["r-ada"]  # every word, any case, any order
    assert await found(nc, q="analyt") == ["r-ada"]  # organization
    assert await found(nc, q="engines.example") == ["r-ada"]  # email, by its words
    assert await found(nc, q="poe") == ["r-ada"]  # a tag
    assert await found(nc, q="zoe østergard") == ["r-zoe"]  # without the accents (Ø is a letter)
    assert await found(nc, q="Zoë") == ["r-zoe"]  # with them
    assert await found(nc, q="velace") == []  # the start of a word, not its middle
    assert await found(nc, q="ada turing") == []
    assert await found(nc, q="a", stage="awareness") == []  # with the other filters
    assert await found(nc, q="a", owner="li") == ["r-alan"]  # Alan; Grace has no word "a…"


@pytest.mark.usefixtures("services")
async def test_a_later_handshake_renames_and_the_search_follows(nc: NATS) -> None:
    await seed(nc)
    data = {"owner": "maria@example.com", "counterpart": {"name": "Augusta King"}}
    last = await publish(nc, event("connection.made", "r-ada", data, days=1))
    assert await found(nc, q="augusta", min_seq=last) == ["r-ada"]
    assert await found(nc, q="lovelace") == []
    older = {"owner": "bo@example.com", "counterpart": {"name": "Ada Byron"}}
    last = await publish(nc, event("connection.made", "r-ada", older, days=-5))  # earlier, late
    assert await found(nc, q="byron", min_seq=last) == []  # the latest handshake names her
    assert await found(nc, q="augusta") == ["r-ada"]


@pytest.mark.usefixtures("services")
async def test_search_pages_with_a_cursor(nc: NATS) -> None:
    last = 0
    for n in range(7):
        data = {"owner": "o@example.com", "counterpart": {"name": f"Pat Number{n}"}}
        last = await publish(nc, event("connection.made", f"p-{n}", data))
    first = await ask(nc, "stage.list", q="pat", limit=3, min_seq=last)
    second = await ask(nc, "stage.list", q="pat", limit=3, cursor=first["next_cursor"])
    third = await ask(nc, "stage.list", q="pat", limit=3, cursor=second["next_cursor"])
    pages = [first, second, third]
    ids = [item["relationship_id"] for page in pages for item in page["items"]]
    assert ids == [f"p-{n}" for n in range(7)]
    assert third["next_cursor"] is None


@pytest.mark.usefixtures("services")
async def test_words_that_cannot_be_searched_are_refused_in_words(nc: NATS) -> None:
    for q, why in (
        ("@@ --", "must hold a word to search for"),
        ("", "at least 1 character"),
        ("x" * 201, "at most 200 characters"),
        ("ada\x00", "no control characters"),
    ):
        reply = await ask(nc, "stage.list", q=q)
        assert reply["error"]["code"] == "invalid", q
        assert reply["error"]["message"].startswith("q: "), reply
        assert why in reply["error"]["message"], reply


@pytest.mark.usefixtures("services")
async def test_an_owner_is_found_by_email_or_by_the_name_before_the_at(nc: NATS) -> None:
    last = await seed(nc)
    await publish(nc, event("interaction.recorded", "r-ada", days=1))
    await publish(nc, event("interaction.recorded", "r-lena", days=1))
    data = {"proposal_id": "p-1", "title": "Course"}
    last = await publish(nc, event("proposal.drafted", "r-zoe", data, days=2))
    assert await found(nc, owner="maria", min_seq=last) == ["r-ada", "r-zoe"]  # not marian
    assert await found(nc, owner="maria@example.com") == ["r-ada", "r-zoe"]
    assert await found(nc, owner="li") == ["r-alan", "r-grace"]  # li@… and plain li
    assert await found(nc, owner="mar") == []  # a name, not a prefix of one
    funnel = await ask(nc, "stage.funnel", owner="maria")
    assert funnel["stages"]["connection"] == 2
    health = await ask(nc, "health.list", owner="maria", min_seq=last)
    assert [(i["relationship_id"], i["name"]) for i in health["items"]] == [
        ("r-ada", "Ada Lovelace"),
        ("r-zoe", "Zoë Østergård"),
    ]
    proposals = await ask(nc, "proposals.pending", owner="maria", min_seq=last)
    assert [p["proposal_id"] for p in proposals["items"]] == ["p-1"]
    assert (await ask(nc, "proposals.pending", owner="marian"))["items"] == []
    owners = await ask(nc, "stage.owners")
    assert owners["owners"] == {
        "li": 1,
        "li@example.com": 1,
        "maria@example.com": 2,
        "marian@example.com": 1,
    }


async def test_search_and_owners_over_http(settings: Settings, nc: NATS) -> None:
    service = ProjectionService(settings, SPECS["stage"])
    await service.start()
    try:
        last = await seed(nc)
        async with running_gateway(settings) as url, httpx.AsyncClient(base_url=url) as http:
            page = await http.get("/v1/relationships", params={"q": "grace", "min_seq": last})
            assert page.status_code == 200, page.text
            [item] = page.json()["items"]
            assert item["relationship_id"] == "r-grace"
            assert item["counterpart"]["email"] == "grace@navy.example"
            owners = await http.get("/v1/owners")
            assert owners.status_code == 200
            assert owners.json()["owners"]["maria@example.com"] == 2
            refused = await http.get("/v1/relationships", params={"q": "--"})
            assert refused.status_code == 400
            assert refused.json()["error"]["message"].startswith("q: must hold a word")
            mixed = await http.get("/v1/relationships", params={"q": "ada", "band": "cold"})
            assert mixed.status_code == 400
    finally:
        await service.stop()
