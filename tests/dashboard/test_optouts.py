"""The dashboard's phone search shows the number's replies and whether it is on the opt-out list (in Chromium)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.dashboard.browser import DESKTOP, PHONE

EXPECT_TIMEOUT = 15_000  # ms: how long Playwright waits for the page to show a figure


def reply(text: str, mobile: str, time: int) -> bytes:
    item = {"extend": "01", "mobile": mobile, "nationcode": "86", "sign": "Acme", "text": text, "time": time}
    return json.dumps(item, ensure_ascii=False).encode()


def listed(client: httpx.Client, phone: str) -> bool:
    """Whether delivrd has `phone` on its list; serving applies replies within about a second of their commit."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if client.get("/v1/optouts", params={"phone": phone}).json()["items"]:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_phone_search_shows_replies_and_the_opt_out_status(start_server, open_page, viewport):
    from playwright.sync_api import expect

    server = start_server()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for n, text in enumerate(("你好", "退订")):
            assert client.post("/sms/reply", content=reply(text, "13800000001", 1790000000 + n)).status_code == 200
        assert client.post("/sms/reply", content=reply("hello", "13800000002", 1790000000)).status_code == 200
        assert listed(client, "+8613800000001")

    watched = open_page(viewport=viewport)
    page = watched.page
    page.goto(server.url + "/#/search")
    page.fill("#q", "13800000001")
    page.keyboard.press("Enter")
    timeline = page.locator("[data-testid=phone]")
    expect(timeline.locator("[data-testid=optout]")).to_contain_text("Unsubscribed", timeout=EXPECT_TIMEOUT)
    expect(timeline.locator("[data-testid=optout]")).to_contain_text("replied")
    expect(timeline.locator("[data-testid=optout]")).to_contain_text("退订")
    expect(timeline.locator("[data-testid=reply]")).to_have_count(2)
    expect(timeline.locator("[data-testid=reply]").first).to_contain_text("退订")  # newest first
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    watched.screenshot(f"search-optout-{'phone' if viewport is PHONE else 'desktop'}")

    page.fill("#q", "+8613800000002")  # replied, but nothing that unsubscribes; no message sent to it
    page.keyboard.press("Enter")
    expect(page.locator("[data-testid=optout]")).to_have_text("Not on the opt-out list.", timeout=EXPECT_TIMEOUT)
    expect(page.locator("[data-testid=reply]")).to_have_count(1)
