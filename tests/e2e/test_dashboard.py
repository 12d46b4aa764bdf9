"""The dashboard in a real browser (Debian's chromium, driven by Playwright) on `rapport up --demo`.

One `rapport up --demo` serves every test of this module. Screenshots of each page go to the
test's temp dir, or to the folder named by RAPPORT_SCREENSHOTS (`RAPPORT_SCREENSHOTS=docs/screenshots`
refreshes the documentation's) — a test run never rewrites tracked files by itself.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e.helpers import rapport_up

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

    from tests.e2e.helpers import Up

CHROMIUM = Path("/usr/bin/chromium")
RELATIONSHIPS = 300  # what `rapport demo` seeds by default
SEEDED_WITHIN = 240.0

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


@pytest.fixture
def errors() -> list[str]:
    """Console errors and uncaught exceptions of the test's page."""
    return []


@pytest.fixture
def page(browser: Browser, errors: list[str]) -> Iterator[Page]:
    """A fresh laptop-sized page that records its console errors in `errors`."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        context.close()


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


def test_every_page_loads_without_console_errors(
    demo: Up, page: Page, errors: list[str], tmp_path: Path
) -> None:
    rel, _ = richest_audited(demo)
    screenshots = Path(os.environ.get("RAPPORT_SCREENSHOTS") or tmp_path)
    screenshots.mkdir(parents=True, exist_ok=True)
    for name, path in (
        ("overview", "/"),
        ("relationship", f"/relationships/{rel}"),
        ("audit", f"/relationships/{rel}/audit"),
    ):
        response = page.goto(f"{demo.http_url}{path}")
        assert response is not None, path
        assert response.status == 200, path
        assert page.locator("main h1").count() == 1
        assert page.get_by_role("navigation", name="Main").is_visible()
        assert page.locator(".problem").count() == 0, page.locator(".problem").all_inner_texts()
        for chart in page.locator("svg.chart").all():
            assert chart.get_attribute("role") == "img"
            assert chart.get_attribute("aria-label")
        # the first laptop screen of each page: what a person sees, at a modest file size
        page.screenshot(path=str(screenshots / f"{name}.png"))
        assert (screenshots / f"{name}.png").stat().st_size > 10_000  # not a blank page
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
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
