"""The dashboard signed in with the viewer key (`--viewer-key`), in a real browser: every page it shows holds
numbers masked only, a phone search by the full number still finds the timeline, quarantined items show no raw
text. The masking itself is the API's (tests/test_viewer.py); this checks what a person is shown."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.dashboard.test_pages import EXPECT_TIMEOUT, figure

FULL = {"Authorization": "Bearer full-key"}
NUMBERS = ("13700137000", "13600136000")  # not the search box's example, 13800138000


def shows_a_full_number(text: str) -> list[str]:
    return [n for n in NUMBERS if re.search(rf"(?<![0-9]){n}(?![0-9])", text)]


@pytest.mark.backends("sqlite")  # the page is the subject: the API's masking is tested on both backends
def test_the_viewer_sees_masked_numbers_on_every_page(start_server, open_page):
    from playwright.sync_api import expect

    server = start_server("--api-key", "full-key", "--viewer-key", "viewer-key")
    with httpx.Client(base_url=server.url, headers=FULL, timeout=10) as c:
        send = {"SendStatusSet": [{"PhoneNumber": "+8613700137000", "SerialNo": "2019:v1", "Code": "Ok"}]}
        assert c.post("/v1/messages", json={**send, "TemplateId": "1001"}).status_code == 200
        items = [
            {
                "sid": "2019:v1",
                "mobile": "13700137000",
                "nationcode": "86",
                "report_status": "FAIL",
                "errmsg": "MK:0001",
            },
            {"sid": "2019:v2", "mobile": "13600136000", "nationcode": "86", "report_status": "SUCCESS"},
            {"sid": "2019:v3", "mobile": "13700137000", "nationcode": "86"},  # quarantined: no report_status
        ]
        assert c.post("/sms/callback", json=items).json()["result"] == 0
    watched = open_page()
    page = watched.page
    page.goto(server.url + "/")
    page.fill("#api-key", "viewer-key")
    page.keyboard.press("Enter")
    expect(figure(page, "total")).to_have_text("2", timeout=EXPECT_TIMEOUT)
    assert shows_a_full_number(page.locator("main").inner_text()) == []

    page.goto(server.url + "/#/search")
    page.fill("#q", "+8613700137000")  # the full number typed: found, and shown masked
    page.keyboard.press("Enter")
    timeline = figure(page, "phone")
    expect(timeline).to_contain_text("2019:v1", timeout=EXPECT_TIMEOUT)
    expect(timeline).to_contain_text("+86 137****7000")
    # the search box holds what the viewer typed; the rest of the page, and all that was found, masked
    assert shows_a_full_number(timeline.inner_html()) == []
    assert shows_a_full_number(page.locator("main").inner_text()) == []

    page.goto(server.url + "/#/rejects")
    row = figure(page, "reject").filter(has_text="report_status")
    expect(row).to_have_count(1, timeout=EXPECT_TIMEOUT)
    assert shows_a_full_number(page.locator("main").inner_html()) == []
    watched.forgive(r"status of 401")  # the answer that made the page ask for the key
