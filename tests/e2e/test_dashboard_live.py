"""The dashboard is live without polling: it follows `GET /v1/notices` in a real browser.

With the overview (or Today) open, a stage change and a touch sent through the CLI show up
without a reload: as a line of the live feed, in words, linking to the relationship, and in the
panels they concern (the funnel's count, the due list). The page keeps the owner filter it
shows, stays within a phone's width, and says so quietly when the stream is unavailable.
Debian's chromium, driven by Playwright, on a plain `rapport up`.
"""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.e2e.helpers import rapport_up
from tests.e2e.test_dashboard import CHROMIUM, LAPTOP, PHONE, browser, opened, overflow
from tests.e2e.test_supervisor import processes

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from playwright.sync_api import Browser, Page, Request

    from tests.e2e.helpers import Up

__all__ = ["browser"]  # the module's Chromium, shared with test_dashboard.py

SHOWN_WITHIN = 20_000  # ms: from the CLI's reply to the page showing it (batching included)
MARIA, BOB = "maria@example.com", "bob@example.com"
NOT_RELOADED = "window.rapportTestMark === 42"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it with apt-get)"
)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """A plain `rapport up`."""
    with rapport_up(tmp_path_factory.mktemp("live")) as running:
        yield running


def emit(up: Up, *args: str) -> int:
    """Send one event with the CLI; the sequence it was stored at."""
    done = up.rapport("emit", *args, "--json")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert reply["rejected"] == [], reply
    return int(reply["accepted"][0]["seq"])


def open_relationship(up: Up, rel: str, name: str, owner: str, days_ago: float) -> None:
    """A connection made `days_ago` days ago with no touch since: due after 7 days."""
    when = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
    seq = emit(
        up,
        "connection.made",
        "--rel",
        rel,
        "--time",
        when,
        "--set",
        f"owner={owner}",
        "--set",
        f"counterpart.name={name}",
    )
    # every panel of the page is answered from a projection that has applied it
    for path in (f"/v1/relationships/{rel}", f"/v1/relationships/{rel}/health", "/v1/proposals"):
        answer = httpx.get(f"{up.http_url}{path}", params={"min_seq": seq}, timeout=10)
        assert answer.status_code == 200, answer.text


def mark(page: Page) -> None:
    """Leave a mark on the window that a reload would wipe out."""
    page.evaluate("window.rapportTestMark = 42")


def live(page: Page) -> None:
    """Wait until the page follows the stream."""
    page.locator('#live-status[data-state="live"]').wait_for(timeout=SHOWN_WITHIN)
    assert page.locator("#live-status").inner_text() == "Live"


def feed_entry(page: Page, rel: str, kind: str) -> str:
    """The feed's line about `rel` of `kind`, once it is there."""
    entry = page.locator(f'#live-feed li[data-relationship="{rel}"][data-kind="{kind}"]')
    entry.first.wait_for(timeout=SHOWN_WITHIN)
    link = entry.first.get_by_role("link")
    assert link.get_attribute("href") == f"/relationships/{rel}"
    return entry.first.inner_text()


def funnel_now(page: Page, stage: str) -> str:
    return page.locator(f'#funnel-table tr[data-stage="{stage}"] [data-measure="now"]').inner_text()


def test_a_stage_change_and_a_touch_show_on_the_overview_without_a_reload(
    up: Up, browser: Browser, tmp_path: Path
) -> None:
    open_relationship(up, "rel-ada", "Ada Lovelace", MARIA, days_ago=10)
    open_relationship(up, "rel-bob", "Bob Stone", BOB, days_ago=10)
    with opened(browser, LAPTOP) as (page, errors):
        page.goto(f"{up.http_url}/?owner={MARIA}")
        live(page)
        assert page.locator("#live-feed .live-empty").is_visible()
        aware = int(funnel_now(page, "awareness"))  # other tests' relationships are maria's too
        due_link = page.locator('#due-table a[href="/relationships/rel-ada"]')
        assert due_link.count() == 1  # ten days without a touch: overdue
        mark(page)

        # another owner's change is not this page's: in stream order it comes first, so had
        # the filter let it through, it would be on the feed before Ada's
        emit(up, "stage.changed", "--rel", "rel-bob", "--set", "to=awareness")
        emit(up, "stage.changed", "--rel", "rel-ada", "--set", "to=awareness")
        said = feed_entry(page, "rel-ada", "stage.changed")
        assert "Ada Lovelace (rel-ada) moved from connection to awareness" in said
        assert page.locator('#live-feed li[data-relationship="rel-bob"]').count() == 0
        # the funnel panel follows, without a reload
        page.wait_for_function(
            "document.querySelector("
            '\'#funnel-table tr[data-stage="awareness"] [data-measure="now"]\''
            f").textContent.trim() === '{aware + 1}'",
            timeout=SHOWN_WITHIN,
        )
        assert page.evaluate(NOT_RELOADED)

        # a touch: a meeting now lifts Ada's health a band and takes her off the due list
        emit(
            up,
            "interaction.recorded",
            "--rel",
            "rel-ada",
            *("--set", "kind=meeting", "--set", "direction=mutual", "--set", "sentiment=0.8"),
        )
        said = feed_entry(page, "rel-ada", "health.band.changed")
        assert "health went from " in said
        assert "(score " in said
        due_link.first.wait_for(state="detached", timeout=SHOWN_WITHIN)
        assert page.evaluate(NOT_RELOADED)
        items = page.locator("#live-feed li.live-item")
        assert items.first.get_attribute("data-kind") == "health.band.changed"  # newest first
        assert items.count() == 2
        page.screenshot(path=str(tmp_path / "overview-live.png"))  # to look at, not compared
        assert errors == []


def test_today_follows_the_stream_and_the_feed_fits_a_phone(up: Up, browser: Browser) -> None:
    open_relationship(up, "rel-cleo", "Cleo Marsh with a rather long name for a phone", MARIA, 9)
    with opened(browser, PHONE) as (page, errors):
        page.goto(f"{up.http_url}/today?owner={MARIA}")
        live(page)
        assert page.locator('#due-today a[href="/relationships/rel-cleo"]').count() == 1
        mark(page)
        emit(
            up,
            "stage.changed",
            "--rel",
            "rel-cleo",
            "--set",
            "to=closed",
            "--set",
            "reason=moved abroad and asked us to stop writing to them for the time being",
        )
        said = feed_entry(page, "rel-cleo", "stage.changed")
        assert "moved from connection to closed" in said
        # a closed relationship is never due: Today drops it, without a reload
        page.locator('#due-today a[href="/relationships/rel-cleo"]').wait_for(
            state="detached", timeout=SHOWN_WITHIN
        )
        assert page.evaluate(NOT_RELOADED)
        assert overflow(page) <= 0, "the live feed scrolls sideways on a phone"
        page.goto(f"{up.http_url}/?owner={MARIA}")
        live(page)
        emit(
            up,
            "stage.changed",
            "--rel",
            "rel-cleo",
            "--set",
            "to=awareness",
            "--set",
            "reason=back in town and keen to hear from us again about the joint workshop",
        )
        feed_entry(page, "rel-cleo", "stage.changed")
        assert overflow(page) <= 0, "the live feed scrolls sideways on a phone"
        assert errors == []


def test_without_the_stream_the_page_says_so_quietly_and_tries_again(
    up: Up, browser: Browser
) -> None:
    open_relationship(up, "rel-dora", "Dora Quiet", MARIA, days_ago=2)
    with opened(browser, LAPTOP) as (page, errors):
        page.route(
            "**/v1/notices*",
            lambda route: route.fulfill(
                status=503,
                content_type="application/json",
                body='{"error":{"code":"unavailable","message":"the notices cannot be read"}}',
            ),
        )
        page.goto(up.http_url)
        status = page.locator('#live-status[data-state="off"]')
        status.wait_for(timeout=SHOWN_WITHIN)
        assert status.inner_text() == "Live updates paused"
        # the page itself is whole, and nothing was thrown
        assert page.locator("#funnel-table").is_visible()
        assert not [error for error in errors if "503" not in error and "EventSource" not in error]
        # the stream is back: the page finds it again by itself, and follows it
        page.unroute("**/v1/notices*")
        live(page)
        emit(up, "stage.changed", "--rel", "rel-dora", "--set", "to=awareness")
        assert "moved from connection to awareness" in feed_entry(page, "rel-dora", "stage.changed")


def test_the_empty_overview_turns_into_the_pipeline_with_the_first_change(
    browser: Browser, tmp_path: Path
) -> None:
    with rapport_up(tmp_path) as fresh, opened(browser, LAPTOP) as (page, errors):
        page.goto(fresh.http_url)
        live(page)
        assert page.locator("#start").is_visible()
        mark(page)
        open_relationship(fresh, "rel-first", "Grace Hopper", MARIA, days_ago=1)
        emit(fresh, "stage.changed", "--rel", "rel-first", "--set", "to=awareness")
        feed_entry(page, "rel-first", "stage.changed")
        page.locator("#funnel-table").wait_for(timeout=SHOWN_WITHIN)
        assert page.locator("#start").count() == 0
        assert funnel_now(page, "awareness") == "1"
        assert page.locator("#live-feed").count() == 1  # the feed stays, once
        assert page.evaluate(NOT_RELOADED)
        assert errors == []


def test_the_page_reconnects_after_the_gateway_dies_and_resumes_where_it_was(
    browser: Browser, tmp_path: Path
) -> None:
    with rapport_up(tmp_path) as fresh, opened(browser, LAPTOP) as (page, errors):
        open_relationship(fresh, "rel-again", "Alan Turing", MARIA, days_ago=1)
        streams: list[Request] = []
        page.on("request", lambda request: streams.append(request))
        page.goto(fresh.http_url)
        live(page)
        mark(page)
        emit(fresh, "stage.changed", "--rel", "rel-again", "--set", "to=awareness")
        feed_entry(page, "rel-again", "stage.changed")

        gateway = processes(fresh)["gateway"]
        os.kill(gateway, signal.SIGKILL)  # the supervisor starts another
        page.locator('#live-status[data-state="reconnecting"]').wait_for(timeout=SHOWN_WITHIN)
        last_id = page.evaluate("window.rapportLastNotice")  # the stream is down: final
        assert isinstance(last_id, str)
        assert last_id.isdigit()
        emit(fresh, "stage.changed", "--rel", "rel-again", "--set", "to=engagement")
        live(page)
        changes = page.locator(
            '#live-feed li[data-relationship="rel-again"][data-kind="stage.changed"]'
        )
        page.wait_for_function(
            'document.querySelectorAll(\'#live-feed li[data-relationship="rel-again"]'
            '[data-kind="stage.changed"]\').length === 2',
            timeout=SHOWN_WITHIN,
        )
        said = changes.all_inner_texts()
        assert "moved from awareness to engagement" in said[0]  # newest first, and once
        assert "moved from connection to awareness" in said[1]
        # the browser came back with the id of the last notice it had: the gateway resumed there
        opened_streams = [request for request in streams if "/v1/notices" in request.url]
        assert len(opened_streams) >= 2
        assert opened_streams[0].all_headers().get("last-event-id") is None
        assert opened_streams[-1].all_headers().get("last-event-id") == last_id
        page.wait_for_function(
            "document.querySelector("
            '\'#funnel-table tr[data-stage="engagement"] [data-measure="now"]\''
            ").textContent.trim() === '1'",
            timeout=SHOWN_WITHIN,
        )
        assert page.evaluate(NOT_RELOADED)
        # the reconnect itself may log a failed load; nothing was thrown
        assert not [e for e in errors if "ERR_" not in e and "EventSource" not in e]
