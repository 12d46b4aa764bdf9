"""The dashboard in a real browser (Debian's chromium, driven by Playwright) on `rapport up --demo`.

One `rapport up --demo` serves every test of this module (and one plain `rapport up` the
empty-store test). Screenshots of each page go to the test's temp dir, or to the folder named
by RAPPORT_SCREENSHOTS (`RAPPORT_SCREENSHOTS=docs/screenshots` refreshes the documentation's)
— a test run never rewrites tracked files by itself.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import nats
import orjson
import pytest

from events.subjects import DLQ_STREAM, EVENTS_STREAM
from services.nats.credentials import read_credential
from tests.e2e.helpers import rapport_up

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, ConsoleMessage, Page

    from tests.e2e.helpers import Up

CHROMIUM = Path("/usr/bin/chromium")
RELATIONSHIPS = 300  # what `rapport demo` seeds by default
SEEDED_WITHIN = 240.0
LAPTOP, PHONE = 1400, 390
PROPOSAL_ROWS = 10  # the overview's pending proposals
# the screenshots docs/dashboard.md shows (the rest go to the test's temp dir)
DOCUMENTED = frozenset(
    {
        *("overview", "empty", "today", "relationships", "proposals", "relationship"),
        *("audit", "dead-letters", "not-found"),
        *("overview-phone", "today-phone", "relationship-phone"),
    }
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it with apt-get)"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """`rapport up --demo` on free loopback ports, once the demo data is fully applied."""
    with rapport_up(tmp_path_factory.mktemp("dashboard"), "--demo") as up:
        deadline = time.monotonic() + SEEDED_WITHIN
        while "Demo ready" not in up.log.read_text(errors="replace"):
            if up.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the demo was not seeded in time:\n{up.log.read_text()}")
            time.sleep(0.2)
        funnel = httpx.get(f"{up.http_url}/v1/funnel", timeout=10).json()
        assert funnel["reached"]["connection"] == RELATIONSHIPS
        yield up


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """A plain `rapport up`: nothing recorded yet."""
    with rapport_up(tmp_path_factory.mktemp("empty")) as up:
        yield up


@pytest.fixture(scope="module")
def dead_letter(demo: Up) -> dict[str, Any]:
    """A different event published raw under an id already used: every projection keeps it."""
    with ThreadPoolExecutor(1) as thread:  # away from Playwright's own event loop
        return thread.submit(asyncio.run, publish_a_reused_id(demo)).result()


async def publish_a_reused_id(up: Up) -> dict[str, Any]:
    credential = read_credential(up.data_dir, "admin")
    assert credential is not None
    nc = await nats.connect(
        up.nats_url, user=credential.user, password=credential.password, inbox_prefix="_INBOX.admin"
    )
    try:
        js = nc.jetstream(timeout=10)
        original = await js.get_msg(EVENTS_STREAM, seq=1)
        assert original.data is not None
        envelope = orjson.loads(original.data)
        other = {**envelope, "time": "2020-02-02T02:02:02Z"}  # the same id, another event
        # no Nats-Msg-Id: a raw publisher that leaves it out is stored, whatever the window
        ack = await js.publish(str(original.subject), orjson.dumps(other))
        deadline = time.monotonic() + 30
        while (await js.stream_info(DLQ_STREAM)).state.messages < 3:
            assert time.monotonic() < deadline, "no dead letter from every projection"
            await asyncio.sleep(0.1)
        return {"id": envelope["id"], "original_seq": original.seq, "seq": ack.seq}
    finally:
        await nc.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium (never a browser that Playwright downloads)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def opened(
    browser: Browser, width: int, errors: list[str] | None = None
) -> Iterator[tuple[Page, list[str]]]:
    """A fresh page `width` pixels wide, and the console errors it records (into `errors`).

    The one error a 404 page's own document causes ("Failed to load resource") is not one.
    """
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    errors = [] if errors is None else errors

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not (
            "status of 404" in message.text and message.location.get("url") == page.url
        ):
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    try:
        yield page, errors
    finally:
        context.close()


@pytest.fixture
def errors() -> list[str]:
    """Console errors and uncaught exceptions of the test's page."""
    return []


@pytest.fixture
def page(browser: Browser, errors: list[str]) -> Iterator[Page]:
    """A fresh laptop-sized page that records its console errors in `errors`."""
    with opened(browser, 1280, errors) as (fresh, _):
        yield fresh


def get_json(up: Up, path: str, **params: Any) -> Any:
    response = httpx.get(f"{up.http_url}{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def richest_audited(up: Up) -> tuple[str, dict[str, Any]]:
    """A relationship with the most stage changes, among those with a rejected one."""
    best: tuple[str, dict[str, Any]] | None = None
    for number in range(1, RELATIONSHIPS + 1):
        rel = f"rel-{number:03d}"
        audit = get_json(up, f"/v1/relationships/{rel}/audit")
        if any(not change["accepted"] for change in audit["changes"]) and (
            best is None or len(audit["changes"]) > len(best[1]["changes"])
        ):
            best = (rel, audit)
        if best is not None and len(best[1]["changes"]) >= 4:
            break
    assert best is not None, "the demo has no rejected stage change"
    return best


def screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    """The first screen of the page, in RAPPORT_SCREENSHOTS when the docs show it."""
    chosen = os.environ.get("RAPPORT_SCREENSHOTS") if name in DOCUMENTED else None
    folder = Path(chosen or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))
    return folder / f"{name}.png"


def overflow(page: Page) -> int:
    """How far the page is wider than the window (0: no horizontal scroll)."""
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width - int(page.viewport_size["width"] if page.viewport_size else 0)


@pytest.mark.parametrize("width", [LAPTOP, PHONE])
def test_every_page_works_at_laptop_and_phone_width(
    demo: Up, dead_letter: dict[str, Any], browser: Browser, width: int, tmp_path: Path
) -> None:
    rel, _ = richest_audited(demo)
    tour = (
        ("overview", "/", 200),
        ("today", "/today", 200),
        ("relationships", "/relationships", 200),
        ("search", "/search?q=ada", 200),
        ("due", "/due", 200),
        ("proposals", "/proposals", 200),
        ("relationship", f"/relationships/{rel}", 200),
        ("audit", f"/relationships/{rel}/audit", 200),
        ("dead-letters", "/dead-letters", 200),
        ("login", "/login", 200),
        ("not-found", "/no/such/page", 404),
    )
    with opened(browser, width) as (page, errors):
        for name, path, status in tour:
            response = page.goto(f"{demo.http_url}{path}")
            assert response is not None, path
            assert response.status == status, path
            assert page.locator("main h1").count() == 1, path
            assert page.get_by_role("banner").is_visible()
            if name != "login":  # nowhere to go before signing in
                assert page.get_by_role("navigation", name="Main").is_visible(), path
                assert page.get_by_role("searchbox", name="Find a relationship").is_visible()
            problems = page.locator(".problem")
            assert problems.count() == 0, problems.all_inner_texts()
            for chart in page.locator("svg.chart").all():
                assert chart.get_attribute("role") == "img"
                assert chart.get_attribute("aria-label")
            assert overflow(page) <= 0, f"{path} scrolls sideways at {width} px"
            # the first screen of each page: what a person sees, at a modest file size
            shot = screenshot(page, name if width == LAPTOP else f"{name}-phone", tmp_path)
            assert shot.stat().st_size > 10_000  # not a blank page
            assert errors == [], path
        page.goto(demo.http_url)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"


def test_the_search_box_finds_a_seeded_person(demo: Up, page: Page, errors: list[str]) -> None:
    items = get_json(demo, "/v1/relationships", limit="1000")["items"]
    names = [item["counterpart"]["name"] for item in items]
    person = next(
        item
        for item in items
        if item["counterpart"].get("email") and names.count(item["counterpart"]["name"]) == 1
    )
    name, rel = person["counterpart"]["name"], person["relationship_id"]
    page.goto(f"{demo.http_url}/due")
    page.get_by_role("searchbox", name="Find a relationship").fill(name)
    page.get_by_role("button", name="Find").click()
    page.wait_for_load_state()
    if not page.url.endswith(f"/relationships/{rel}"):  # a name whose words start others'
        page.locator(f'#relationships-table a[href="/relationships/{rel}"]').click()
    page.wait_for_url(f"**/relationships/{rel}")
    assert page.locator("main h1").inner_text().startswith(name)
    email = person["counterpart"]["email"]
    assert page.locator(f'#contact a[href="mailto:{email}"]').inner_text() == email

    page.get_by_role("searchbox", name="Find a relationship").fill("ada")
    page.get_by_role("searchbox", name="Find a relationship").press("Enter")
    page.wait_for_url("**/search?q=ada")
    found = get_json(demo, "/v1/relationships", q="ada", limit="50")["items"]
    rows = page.locator("#relationships-table tbody tr")
    assert rows.count() == len(found) > 1
    first = rows.first.get_by_role("link")
    assert first.get_attribute("href") == f"/relationships/{found[0]['relationship_id']}"
    first.click()
    page.wait_for_url(f"**/relationships/{found[0]['relationship_id']}")
    assert errors == []


def shown_ids(page: Page, table: str) -> list[str]:
    links = page.locator(f"#{table} tbody tr td:first-child a")
    return [str(link.get_attribute("href")).rsplit("/", 1)[-1] for link in links.all()]


def test_more_links_lead_to_pages_that_list_more(demo: Up, page: Page, errors: list[str]) -> None:
    pending = get_json(demo, "/v1/proposals")["items"]
    assert len(pending) > PROPOSAL_ROWS
    page.goto(demo.http_url)
    more = page.locator("#more-proposals")
    assert more.inner_text() == f"and {len(pending) - PROPOSAL_ROWS} more pending"
    more.click()
    page.wait_for_url("**/proposals")
    first = page.locator("#proposals-table tbody tr")
    assert first.count() == min(25, len(pending)) > PROPOSAL_ROWS
    assert f"of {len(pending)}" in page.locator("#proposals-title").inner_text()
    on_first = {row.inner_text() for row in first.all()}
    page.locator("#next-page").click()
    page.wait_for_url("**/proposals?page=2")
    second = page.locator("#proposals-table tbody tr")
    assert second.count() == min(25, len(pending) - 25) > 0
    assert on_first.isdisjoint(row.inner_text() for row in second.all())

    page.goto(demo.http_url)
    page.locator("#more-due").click()
    page.wait_for_url("**/due")
    due_first = shown_ids(page, "due-table")
    assert len(due_first) == 50
    page.locator("#next-page").click()
    page.wait_for_url("**/due?cursor=*")
    due_second = shown_ids(page, "due-table")
    assert due_second
    assert set(due_first).isdisjoint(due_second)

    page.goto(f"{demo.http_url}/relationships")
    listed = shown_ids(page, "relationships-table")
    page.locator("#next-page").click()
    page.wait_for_url("**/relationships?cursor=*")
    after = shown_ids(page, "relationships-table")
    assert len(listed) == len(after) == 50
    assert after[0] > listed[-1]  # id order, going on where the first page stopped
    assert errors == []


def test_today_lists_one_owners_week_and_remembers_them(
    demo: Up, page: Page, errors: list[str]
) -> None:
    owner = "maria@example.com"
    page.goto(f"{demo.http_url}/today")
    page.get_by_label("Owner", exact=True).select_option(owner)
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/today?owner=*")
    rows = page.locator("table.today tbody tr")
    assert rows.count() > 0
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    week_ends = (midnight + timedelta(days=7)).isoformat()
    due = get_json(demo, "/v1/relationships", owner=owner, due_before=week_ends, limit="1000")
    assert rows.count() == min(200, len(due["items"]))
    for row in rows.all()[:20]:
        rel = str(row.get_by_role("link").first.get_attribute("href")).rsplit("/", 1)[-1]
        stage = get_json(demo, f"/v1/relationships/{rel}")
        assert stage["owner"] == owner
        assert stage["stage"] != "closed"
        assert row.locator('[data-label="Why"]').inner_text().strip()
        action = row.locator('[data-label="What to do"]').inner_text()
        assert f"rapport log {rel} " in action
    page.goto(f"{demo.http_url}/today")  # the owner is remembered
    assert page.get_by_label("Owner", exact=True).input_value() == owner
    assert "for maria@example.com" in page.locator("main h1").inner_text()
    assert errors == []


def test_the_empty_store_shows_how_to_start(empty: Up, browser: Browser, tmp_path: Path) -> None:
    for width in (LAPTOP, PHONE):
        with opened(browser, width) as (page, errors):
            page.goto(empty.http_url)
            start = page.locator("#start")
            assert start.is_visible()
            for way in ("rapport up --demo", "rapport import contacts.csv", "rapport new"):
                assert way in start.inner_text()
            assert "Nobody is due" not in page.locator("main").inner_text()
            assert overflow(page) <= 0
            assert errors == []
            screenshot(page, "empty" if width == LAPTOP else "empty-phone", tmp_path)


def test_the_dead_letter_page_lists_a_dead_letter_with_its_reason(
    demo: Up, dead_letter: dict[str, Any], page: Page, errors: list[str]
) -> None:
    page.goto(f"{demo.http_url}/dead-letters")
    rows = page.locator("#dead-letters-table tbody tr")
    assert rows.count() == 3  # one per projection
    why = f"id '{dead_letter['id']}' already used by another event at seq {dead_letter['original_seq']}"
    for row in rows.all():
        assert why in row.locator('[data-label="Why"]').inner_text()
        assert f"log seq {dead_letter['seq']}" in row.locator('[data-label="Event"]').inner_text()
    projections = {row.locator('[data-label="Projection"]').inner_text() for row in rows.all()}
    assert projections == {"stage", "health", "proposals"}
    page.get_by_label("Projection").select_option("health")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/dead-letters?projection=health")
    assert rows.count() == 1
    assert errors == []


def test_the_api_docs_load_with_nothing_from_another_host(demo: Up, browser: Browser) -> None:
    with opened(browser, LAPTOP) as (page, errors):
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{demo.http_url}/docs")
        title = page.locator(".swagger-ui .info .title")
        title.wait_for()
        assert title.inner_text().startswith("Rapport")
        page.locator(".opblock-summary-path", has_text="/v1/funnel").first.wait_for()
        hosts = {urlsplit(url).hostname for url in requested if not url.startswith("data:")}
        assert hosts == {"127.0.0.1"}, requested
        assert errors == []


def test_the_funnel_shows_the_seeded_counts(demo: Up, page: Page, errors: list[str]) -> None:
    funnel = get_json(demo, "/v1/funnel")
    page.goto(demo.http_url)
    for stage, reached in funnel["reached"].items():
        row = page.locator(f'#funnel-table tr[data-stage="{stage}"]')
        assert row.locator('[data-measure="reached"]').inner_text() == str(reached)
        assert row.locator('[data-measure="now"]').inner_text() == str(funnel["stages"][stage])
    closed = page.locator('#funnel-table tr[data-stage="closed"] [data-measure="now"]')
    assert closed.inner_text() == str(funnel["stages"]["closed"])
    assert sum(funnel["stages"].values()) == RELATIONSHIPS
    ratio = funnel["conversion"]["connection->awareness"]
    onward = page.locator('#funnel-table tr[data-stage="connection"] [data-measure="onward"]')
    assert onward.inner_text() == f"{round(100 * ratio)}%"

    owner = "maria@example.com"
    page.get_by_label("Owner", exact=True).select_option(owner)
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/?owner=*")
    of_owner = get_json(demo, "/v1/funnel", owner=owner)
    reached = page.locator('#funnel-table tr[data-stage="connection"] [data-measure="reached"]')
    assert reached.inner_text() == str(of_owner["reached"]["connection"])
    assert of_owner["reached"]["connection"] < RELATIONSHIPS
    assert errors == []


def test_a_click_on_a_relationship_opens_its_timeline(
    demo: Up, page: Page, errors: list[str]
) -> None:
    page.goto(demo.http_url)
    link = page.locator("#due-table tbody tr a").first
    name = link.inner_text()
    link.click()
    page.wait_for_url("**/relationships/rel-*")
    rel = page.url.rsplit("/", 1)[1]
    assert page.locator("main h1").inner_text().startswith(name)
    audit = get_json(demo, f"/v1/relationships/{rel}/audit")
    timeline = page.locator("#timeline li")
    assert timeline.count() == len(audit["changes"])
    assert page.locator("#touches tbody tr").count() > 0
    assert page.get_by_role("img", name="Health score over the last year").is_visible()
    assert errors == []


def test_the_as_of_picker_changes_the_answer(demo: Up, page: Page, errors: list[str]) -> None:
    rel, audit = richest_audited(demo)
    changes = audit["changes"]
    assert len(changes) >= 2
    page.goto(f"{demo.http_url}/relationships/{rel}/audit")
    assert page.locator("#audit-table tbody tr").count() == len(changes)
    assert page.locator("#audit-table tr.rejected").count() >= 1
    first, second = (datetime.fromisoformat(c["time"]) for c in changes[:2])
    between = first + (second - first) / 2
    if between.replace(second=0, microsecond=0) < first:  # the picker has minutes only
        between = second
    page.get_by_label("As of (UTC)", exact=True).fill(between.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/audit?as_of=*")
    rows = page.locator("#audit-table tbody tr")
    assert 1 <= rows.count() < len(changes)
    then = changes[0]["to"] if changes[0]["accepted"] else "connection"
    assert f"Stage then: {then}" in page.locator("#audit-stage").inner_text()
    assert errors == []
