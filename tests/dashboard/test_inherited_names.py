"""Data named like the properties every JavaScript object inherits is shown as data, not looked up as one."""

from __future__ import annotations

import pytest

from tests.factories import body, report

ACK = {"result": 0, "errmsg": "OK"}


#: names every JavaScript object inherits: as data-derived keys of a plain object they find a function, not nothing
INHERITED = ("constructor", "__proto__", "toString", "hasOwnProperty")


@pytest.mark.backends("sqlite")  # the page's lookups are the subject; the store only has to hold the names
def test_the_dashboard_shows_data_named_like_object_properties(server, client, open_page):
    from playwright.sync_api import expect

    reports = [
        report(n, nationcode=name, errmsg=name, sid=name, report_status="FAIL") for n, name in enumerate(INHERITED)
    ]
    assert client.post("/sms/callback", content=body(reports)).json() == ACK
    watched = open_page()
    page = watched.page
    page.goto(server.url + "/#/constructor?range=constructor")  # an unknown page and range: the overview, 24 h
    expect(page.locator("[data-testid=total]")).to_have_text(str(len(INHERITED)), timeout=15_000)
    countries = page.locator("[data-testid=countries]")
    for name in INHERITED:
        expect(countries.locator("tr", has_text=f"+{name}")).to_have_count(1)
        expect(page.locator("[data-testid=codes]").locator("tr", has_text=name)).to_contain_text("Unknown")
    page.goto(server.url + "/#/search?q=constructor")
    expect(page.locator("[data-testid=state]")).to_have_text("failed", timeout=15_000)
