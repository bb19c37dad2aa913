"""The dashboard's Live page against a real `delivrd serve`: events appear as they are stored (read from
/v1/events through fetch, with the API key when there is one), and each forwarding endpoint has its row."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import body, report

ACK = {"result": 0, "errmsg": "OK"}
EXPECT_TIMEOUT = 15_000  # ms: how long Playwright waits for the page to show what it should
REPLY = {
    "extend": "",
    "mobile": "13800138000",
    "nationcode": "86",
    "sign": "s",
    "text": "see you at 5",
    "time": 1700000000,
}


@pytest.mark.backends("sqlite")  # the page is the subject; the events' order on both stores is tests/forward's
def test_the_live_feed_shows_new_events_and_the_endpoints_their_state(start_server, open_page):
    from playwright.sync_api import expect

    server = start_server()
    watched = open_page()
    page = watched.page
    page.goto(server.url + "/#/live")
    expect(page.locator("[data-testid=live-status]")).to_have_text("live", timeout=EXPECT_TIMEOUT)
    expect(page.locator("[data-testid=endpoints-panel]")).to_contain_text("No endpoint")

    added = httpx.post(server.url + "/v1/endpoints", json={"url": "http://127.0.0.1:9/x"}, timeout=10)
    assert added.status_code == 201, added.text
    failed = report(2, report_status="FAIL", errmsg="MK:0001")
    assert httpx.post(server.url + "/sms/callback", content=body([report(1), failed]), timeout=10).json() == ACK
    assert httpx.post(server.url + "/sms/reply", json=REPLY, timeout=10).json() == ACK

    events = page.locator("[data-testid=event]")
    expect(events).to_have_count(3, timeout=EXPECT_TIMEOUT)
    expect(events.nth(0)).to_contain_text("see you at 5")  # newest on top
    expect(events.nth(1)).to_contain_text(failed["sid"])
    expect(events.nth(1)).to_contain_text("failed")
    expect(events.nth(2)).to_contain_text(report(1)["sid"])
    expect(events.nth(2)).to_contain_text("delivered")

    # nothing listens at that URL: its three events wait, shown as its lag (the page refreshes its endpoints)
    row = page.locator("[data-testid=endpoint]")
    expect(row).to_have_count(1, timeout=EXPECT_TIMEOUT)
    expect(row).to_contain_text("http://127.0.0.1:9/x")
    expect(row).to_contain_text(added.json()["id"])
    expect(row.locator("[data-testid=lag]")).to_contain_text("3 events", timeout=EXPECT_TIMEOUT)
    watched.screenshot("live-desktop")

    page.click("nav a[data-page=overview]")  # leaving the page ends its stream
    expect(page.locator("[data-testid=total]")).to_be_visible(timeout=EXPECT_TIMEOUT)


@pytest.mark.backends("sqlite")
def test_the_live_feed_sends_the_api_key(start_server, open_page):
    from playwright.sync_api import expect

    server = start_server("--api-key", "s3cret")
    watched = open_page()
    page = watched.page
    page.goto(server.url + "/#/live")
    page.fill("#api-key", "s3cret")
    page.keyboard.press("Enter")
    expect(page.locator("[data-testid=live-status]")).to_have_text("live", timeout=EXPECT_TIMEOUT)
    assert httpx.post(server.url + "/sms/callback", content=body([report(7)]), timeout=10).json() == ACK
    expect(page.locator("[data-testid=event]")).to_contain_text(report(7)["sid"], timeout=EXPECT_TIMEOUT)
    watched.forgive(r"status of 401")  # the first answer, that made the page ask for the key
