"""The dashboard around its pages: errors as pages for browsers, the API docs from local files,
the sign-in page's look, an empty store, the dead letters, and pages without their services.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from events.subjects import DLQ_STREAM
from services.config.tokens import digest
from services.gateway.dashboard import deadletters
from tests.conftest import running_gateway, wait_for
from tests.factories import event
from tests.publishing import ask, publish

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings

PAGE = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
PAGES = ("/", "/today", "/relationships", "/search?q=ada", "/due", "/proposals", "/dead-letters")


@pytest.fixture
async def http(gateway: str) -> Any:
    async with httpx.AsyncClient(base_url=gateway) as client:
        yield client


async def test_a_browser_gets_error_pages_and_every_other_client_json(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/nowhere", headers=PAGE)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "No such page" in page.text
    assert "<code>/nowhere</code>" in page.text
    assert '<link rel="stylesheet" href="/static/dashboard.css">' in page.text
    assert 'action="/search"' in page.text  # the header, search box and all
    escaped = await http.get("/<script>alert(1)</script>", headers=PAGE)
    assert "<script>alert(1)" not in escaped.text
    for path, headers in (
        ("/nowhere", {}),  # no Accept: a program
        ("/nowhere", {"accept": "application/json"}),
        ("/v1/nowhere", PAGE),  # the API answers JSON, whoever asks
        ("/v1", PAGE),
    ):
        answer = await http.get(path, headers=headers)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found", path
    unreadable = await http.get("/relationships/a.b", headers=PAGE)
    assert unreadable.status_code == 400
    assert "That address cannot be read" in unreadable.text
    assert "relationship_id:" in unreadable.text
    method = await http.delete("/today", headers=PAGE)
    assert method.status_code == 405
    assert method.headers["allow"] == "GET"


async def test_the_api_docs_load_only_files_served_here(http: httpx.AsyncClient) -> None:
    docs = await http.get("/docs")
    assert docs.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert sources, docs.text
    assert all(source.startswith("/") for source in sources), sources
    assert "http" not in docs.text  # no absolute address: nothing from another host
    assert '"validatorUrl": null' in docs.text
    for source, kind in (
        ("/static/api-docs/swagger-ui-bundle.js", "javascript"),
        ("/static/api-docs/swagger-ui.css", "text/css"),
        ("/static/api-docs/favicon.png", "image/png"),
    ):
        assert source in sources
        asset = await http.get(source)
        assert asset.status_code == 200
        assert kind in asset.headers["content-type"]
        assert len(asset.content) > 1000
    assert (await http.get("/static/api-docs/redoc.standalone.js")).status_code == 404
    assert (await http.get("/static/api-docs/redoc.js")).status_code == 404
    assert (await http.get("/docs/oauth2-redirect")).status_code == 200
    assert (await http.get("/openapi.json")).json()["info"]["title"] == "Rapport"


async def test_the_sign_in_page_looks_like_every_other(http: httpx.AsyncClient) -> None:
    page = await http.get("/login")
    assert page.status_code == 200
    assert '<link rel="stylesheet" href="/static/dashboard.css">' in page.text
    assert 'class="card login"' in page.text
    assert 'aria-label="Main"' not in page.text  # no pages to go to before signing in


async def test_an_empty_store_says_how_to_start(http: httpx.AsyncClient) -> None:
    overview = await http.get("/")
    assert overview.status_code == 200
    for way in ("rapport up --demo", "rapport import contacts.csv", "rapport new", "rapport emit"):
        assert way in overview.text
    assert "Nobody is due" not in overview.text
    assert 'class="problem"' not in overview.text


async def test_dead_letters_newest_first_with_why(
    nc: NATS, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = event("connection.made", "ada", event_id="ev-reused")
    stored = await publish(nc, first)
    await ask(nc, "stage.owners", min_seq=stored, wait_ms=10_000)
    empty = await http.get("/dead-letters")
    assert "No dead letters" in empty.text
    # another event under a used id, published raw after the duplicate window would have
    # dropped it: every projection keeps it as a dead letter
    other = event("interaction.recorded", "ada", event_id="ev-reused")
    at = await publish(nc, other, msg_id="a raw publish, later")
    js = nc.jetstream()

    async def three_letters() -> bool:
        return (await js.stream_info(DLQ_STREAM)).state.messages == 3

    await wait_for(three_letters, what="a dead letter from every projection")
    page = await http.get("/dead-letters")
    assert page.status_code == 200
    kept = re.findall(r'<div class="sub">#(\d+)</div>', page.text)
    assert kept == ["3", "2", "1"]  # newest first
    assert f"id &#39;ev-reused&#39; already used by another event at seq {stored}" in page.text
    assert f"log seq {at}" in page.text
    assert '<a href="/relationships/ada">ada</a>' in page.text
    assert "rapport.interaction.recorded" in page.text
    of_stage = await http.get("/dead-letters", params={"projection": "stage"})
    assert re.findall(r'<td data-label="Projection">(\w+)</td>', of_stage.text) == ["stage"]
    monkeypatch.setattr(deadletters, "PAGE", 2)
    newest = await http.get("/dead-letters")
    assert re.findall(r'<div class="sub">#(\d+)</div>', newest.text) == ["3", "2"]
    [older] = re.findall(r'id="next-page" rel="next" href="([^"]+)"', newest.text)
    rest = await http.get(older)
    assert re.findall(r'<div class="sub">#(\d+)</div>', rest.text) == ["1"]
    assert 'id="next-page"' not in rest.text


def test_a_dead_letter_is_read_whatever_its_bytes() -> None:
    from events.reading import StoredMessage

    for data, headers in (
        (b"\xff\xfe not json", {}),
        (b"[1, 2]", {"Rapport-Seq": "x", "Nats-Time-Stamp": "yesterday"}),
        (b'{"id": 5, "type": null, "subject": "../x"}', {"Rapport-Subject": "rapport.ev.a"}),
    ):
        letter = deadletters.dead_letter(
            StoredMessage(seq=7, subject="rapport.dlq.stage.9", data=data, headers=headers)
        )
        assert letter.projection == "stage"
        assert letter.log_seq is None
        assert letter.relationship_id is None
        assert letter.event_id is None
        assert letter.reason == "no reason recorded"


@pytest.mark.usefixtures("nc")
async def test_the_new_pages_say_which_service_is_missing(settings: Settings) -> None:
    async with running_gateway(settings) as url, httpx.AsyncClient(base_url=url) as client:
        for path in PAGES:
            page = await client.get(path)
            assert page.status_code == 200, path
            if path != "/dead-letters":  # read from the stream itself
                assert "is not running" in page.text, path
        assert "No dead letters" in (await client.get("/dead-letters")).text


@pytest.mark.usefixtures("services")
async def test_the_docs_and_their_files_are_open_when_tokens_are_asked(
    settings: Settings,
) -> None:
    locked = settings.model_copy(update={"api_tokens": f"viewer:read:{digest('tok-read')}"})
    async with running_gateway(locked) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/docs")).status_code == 200
        assert (await client.get("/static/api-docs/swagger-ui.css")).status_code == 200
        today = await client.get("/today", headers=PAGE)
        assert today.status_code == 303  # a page: sign in first
        assert today.headers["location"] == "/login?next=/today"
