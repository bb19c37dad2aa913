"""The dashboard end to end: a real `delivrd serve` fed known sends and callbacks over HTTP,
looked at in headless Chromium. Every expected figure is computed here from the fed data."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from tests.dashboard.browser import DESKTOP, PHONE
from tests.dashboard.prefix_proxy import PrefixProxy
from tests.servers import ServerProcess

ACK = {"result": 0, "errmsg": "OK"}
UTC8 = timezone(timedelta(hours=8))
EXPECT_TIMEOUT = 15_000  # ms: how long Playwright waits for the page to show a figure


@dataclass
class Message:
    """One message of the fed data: what was sent (if registered) and what the receipt said."""

    sid: str
    nationcode: str
    mobile: str
    registered: bool
    status: str | None  # SUCCESS, FAIL, or None: no receipt (yet)
    errmsg: str | None = None
    hours_ago: int = 0  # when it was sent, so the chart has a day to show

    @property
    def phone(self) -> str:
        return f"+{self.nationcode}{self.mobile}"


#: receipt outcomes in turn: mostly delivered, some invalid numbers, a switched-off handset
CHINA = [("SUCCESS", "DELIVRD")] * 6 + [("FAIL", "MK:0001"), ("SUCCESS", "DELIVRD"), ("FAIL", "MK:0024")]


def fed_messages() -> list[Message]:
    messages = []
    for n in range(45):  # mainland China, registered; the last one has no receipt yet
        status, code = CHINA[n % len(CHINA)] if n < 44 else (None, None)
        messages.append(Message(f"2019:dash{n:06d}", "86", f"138000000{n:02d}", True, status, code, 1 + n * 7 % 22))
    for n, (status, code) in enumerate(
        [("SUCCESS", "DELIVRD"), ("SUCCESS", "DELIVRD"), ("FAIL", "UNDELIV"), ("FAIL", "ZZ:9999")]
    ):
        messages.append(Message(f"2019:dashid{n:04d}", "62", f"8120000{n:04d}", True, status, code, 2 + 5 * n))
    messages.append(Message("2019:orphan0001", "86", "13900000001", False, "SUCCESS", "DELIVRD"))
    messages.append(Message("2019:orphan0002", "86", "13900000002", False, "FAIL", "MK:0001"))
    return messages


def expected(messages: list[Message]) -> dict:
    delivered = sum(m.status == "SUCCESS" for m in messages)
    failed = sum(m.status == "FAIL" for m in messages)
    return {
        "total": len(messages),
        "delivered": delivered,
        "failed": failed,
        "pending": sum(m.status is None for m in messages),
        "success_rate": f"{100 * delivered / (delivered + failed):.1f}%",
    }


REJECTED_ITEM = {"sid": "2019:broken-item", "mobile": "13800009999", "nationcode": "86"}  # no report_status


def feed(url: str, messages: list[Message]) -> None:
    now = datetime.now(UTC)
    sent_at = {m.sid: now - timedelta(hours=m.hours_ago, minutes=10) for m in messages}
    with httpx.Client(base_url=url, timeout=10) as c:
        calls: dict[tuple[str, int], list[Message]] = {}  # one SendSms call per template and hour
        for m in messages:
            if m.registered:
                calls.setdefault(("1001" if m.nationcode == "86" else "2002", m.hours_ago), []).append(m)
        for (template, _), group in calls.items():
            answer = c.post(
                "/v1/messages",
                json={
                    "TemplateId": template,
                    "SignName": "delivrd",
                    "SentAt": sent_at[group[0].sid].isoformat(),
                    "RequestId": "ignored",
                    "SendStatusSet": [
                        {
                            "SerialNo": m.sid,
                            "PhoneNumber": m.phone,
                            "Fee": 1,
                            "SessionContext": "",
                            "Code": "Ok",
                            "Message": "send success",
                            "IsoCode": "CN",
                        }
                        for m in group
                    ],
                },
            )
            assert answer.status_code == 200, answer.text
        reports = [
            {
                "user_receive_time": (sent_at[m.sid] + timedelta(seconds=3 + i % 20))
                .astimezone(UTC8)
                .strftime("%Y-%m-%d %H:%M:%S"),
                "nationcode": m.nationcode,
                "mobile": m.mobile,
                "report_status": m.status,
                "errmsg": m.errmsg,
                "sid": m.sid,
                "description": "用户短信接收成功" if m.status == "SUCCESS" else "failed",
            }
            for i, m in enumerate(messages)
            if m.status is not None
        ]
        assert c.post("/sms/callback", json=reports[:5]).json() == ACK
        assert c.post("/sms/callback", json=reports[:5]).json() == ACK  # Tencent's retry: 5 duplicates
        assert c.post("/sms/callback", json=[*reports[5:], REJECTED_ITEM]).json() == ACK


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("dashboard") / "delivrd.db").start()
    messages = fed_messages()
    try:
        feed(server.url, messages)
        codes = httpx.get(server.url + "/v1/receipt-codes", timeout=10).json()
        yield server, messages, codes
    finally:
        server.kill()


def explanation(codes: dict, code: str, lang: str = "en") -> str:
    return next(c for c in codes["codes"] if c["code"] == code)["explanation"][lang]


def figure(page, testid: str):
    return page.locator(f"[data-testid={testid}]")


def test_overview_shows_the_fed_totals(fed, open_page):
    from playwright.sync_api import expect

    server, messages, codes = fed
    want = expected(messages)
    watched = open_page()
    page = watched.page
    page.goto(server.url + "/")
    for name in ("total", "delivered", "failed", "pending"):
        expect(figure(page, name)).to_have_text(str(want[name]), timeout=EXPECT_TIMEOUT)
    expect(figure(page, "success-rate")).to_have_text(want["success_rate"])
    expect(figure(page, "duplicates")).to_have_text("5")
    expect(figure(page, "rejects")).to_have_text("1")
    expect(figure(page, "last-callback")).not_to_have_text("—")
    # the top code, with the catalogue's explanation; the unknown code is listed as such
    codes_table = figure(page, "codes")
    expect(codes_table.locator("tr", has_text="MK:0001")).to_contain_text(explanation(codes, "MK:0001"))
    expect(codes_table.locator("tr", has_text="ZZ:9999")).to_contain_text("Unknown")
    # failures by category: the server's own lookup of each failed code (by=category's rule)
    failed_by_category: dict[str, int] = {}
    for m in messages:
        if m.status == "FAIL":
            category = httpx.get(server.url + "/v1/receipt-codes", params={"code": m.errmsg}).json()["category"]
            failed_by_category[category] = failed_by_category.get(category, 0) + 1
    label = {c["key"]: c["label"]["en"] for c in codes["categories"]}
    assert len(failed_by_category) >= 2
    for category, count in failed_by_category.items():
        expect(figure(page, "categories").locator("tr", has_text=label[category]).locator("td").nth(1)).to_have_text(
            str(count)
        )
    china = [m for m in messages if m.nationcode == "86"]
    expect(figure(page, "countries").locator("tr", has_text="+86")).to_contain_text(expected(china)["success_rate"])
    expect(page.locator(".u-wrap canvas")).to_have_count(1)  # the chart was drawn
    watched.screenshot("overview-desktop")

    page.click("#lang")  # 中文: labels and the catalogue's explanations switch together
    expect(page.locator("nav a[data-page=overview]")).to_have_text("概览")
    expect(codes_table.locator("tr", has_text="MK:0001")).to_contain_text(explanation(codes, "MK:0001", "zh"))
    watched.screenshot("overview-desktop-zh")
    page.click("#lang")

    # a custom range, the last three hours: the sends of the last two hours and the orphan receipts
    now = datetime.now(UTC)
    since, until = now - timedelta(hours=3), now + timedelta(minutes=2)
    inside = [m for m in messages if not m.registered or now - timedelta(hours=m.hours_ago, minutes=10) >= since]
    assert 0 < len(inside) < len(messages)
    page.click("button[data-range=custom]")
    page.fill("input[name=since]", since.strftime("%Y-%m-%dT%H:%M"))  # the page's clock is UTC
    page.fill("input[name=until]", until.strftime("%Y-%m-%dT%H:%M"))
    page.click(".ranges form button[type=submit]")
    expect(figure(page, "total")).to_have_text(str(len(inside)), timeout=EXPECT_TIMEOUT)
    expect(page.locator("button[data-range=custom]")).to_have_attribute("aria-pressed", "true")


def test_overview_on_a_phone_in_dark_mode(fed, open_page):
    from playwright.sync_api import expect

    server, messages, _ = fed
    watched = open_page(viewport=PHONE, color_scheme="dark")
    page = watched.page
    page.goto(server.url + "/#/?range=7d")
    expect(figure(page, "total")).to_have_text(str(expected(messages)["total"]), timeout=EXPECT_TIMEOUT)
    assert page.evaluate("getComputedStyle(document.documentElement).backgroundColor") == "rgb(15, 17, 21)"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing spills sideways
    watched.screenshot("overview-phone")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_search_finds_a_phones_timeline(fed, open_page, viewport):
    from playwright.sync_api import expect

    server, messages, codes = fed
    failed = next(m for m in messages if m.registered and m.errmsg == "MK:0001")
    watched = open_page(viewport=viewport)
    page = watched.page
    page.goto(server.url + "/#/search")
    page.fill("#q", failed.phone)
    page.keyboard.press("Enter")
    timeline = figure(page, "phone")
    expect(timeline).to_contain_text(failed.sid, timeout=EXPECT_TIMEOUT)
    expect(timeline.locator("[data-testid=state]")).to_have_text("failed")
    expect(timeline.locator("[data-testid=sent]")).to_have_count(1)
    expect(timeline.locator("[data-testid=receipt]")).to_contain_text(explanation(codes, "MK:0001"))
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    watched.screenshot(f"search-{'phone' if viewport is PHONE else 'desktop'}")

    pending = next(m for m in messages if m.registered and m.status is None)
    page.fill("#q", pending.sid)  # by sid: the send is known, its receipt is not
    page.keyboard.press("Enter")
    expect(figure(page, "message")).to_contain_text(pending.sid, timeout=EXPECT_TIMEOUT)
    expect(figure(page, "state")).to_have_text("pending")
    expect(figure(page, "receipt")).to_have_count(0)

    page.fill("#q", "2019:no-such-sid")
    page.keyboard.press("Enter")
    expect(figure(page, "not-found")).to_be_visible(timeout=EXPECT_TIMEOUT)
    watched.forgive(r"status of 404 .*no-such-sid")  # the 404 that says so


def test_overview_matches_a_simulated_run(start_server, open_page, tmp_path):
    """`delivrd simulate` pushes like Tencent, retries and duplicates included; its ledger
    of acked reports says what the overview must show (receipts with no send: one
    message per sid and mobile, delivered when any receipt says SUCCESS)."""
    from playwright.sync_api import expect

    server = start_server()
    ledger = tmp_path / "run.jsonl"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "delivrd",
            "simulate",
            "--url",
            server.url + "/sms/callback",
            "--count",
            "400",
            "--batch",
            "20",
            "--seed",
            "7",
            "--success-ratio",
            "0.8",
            "--duplicates",
            "0.2",
            "--ledger",
            str(ledger),
        ],
        capture_output=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr.decode()
    outcomes: dict[tuple[str, str], set[str]] = {}
    for line in ledger.read_text().splitlines():
        entry = json.loads(line)
        outcomes.setdefault((entry["sid"], entry["mobile"]), set()).add(entry["report_status"])
    delivered = sum("SUCCESS" in statuses for statuses in outcomes.values())
    failed = len(outcomes) - delivered
    assert 0 < failed < delivered  # the run is a mix worth checking

    watched = open_page()
    page = watched.page
    page.goto(server.url + "/")
    expect(figure(page, "total")).to_have_text(f"{len(outcomes):,}", timeout=EXPECT_TIMEOUT)
    expect(figure(page, "delivered")).to_have_text(f"{delivered:,}")
    expect(figure(page, "failed")).to_have_text(f"{failed:,}")
    expect(figure(page, "success-rate")).to_have_text(f"{100 * delivered / len(outcomes):.1f}%")
    expect(figure(page, "duplicates")).not_to_have_text("0")  # the injected duplicates were recognised


def test_rejects_list_shows_the_bad_item(fed, open_page):
    from playwright.sync_api import expect

    server, _, _ = fed
    watched = open_page()
    page = watched.page
    page.goto(server.url + "/#/rejects")
    row = figure(page, "reject").filter(has_text="2019:broken-item")
    expect(row).to_have_count(1, timeout=EXPECT_TIMEOUT)
    expect(row).to_contain_text("report_status")  # the reason names what is missing


def test_under_a_path_prefix(fed, open_page):
    """Behind a reverse proxy at /delivrd/, every request the page makes stays under the prefix."""
    from playwright.sync_api import expect

    server, messages, _ = fed
    with PrefixProxy(server.url, "/delivrd") as proxy:
        watched = open_page()
        page = watched.page
        page.goto(proxy.url)
        expect(figure(page, "total")).to_have_text(str(expected(messages)["total"]), timeout=EXPECT_TIMEOUT)
        page.click("nav a[data-page=rejects]")
        expect(figure(page, "reject")).to_have_count(1, timeout=EXPECT_TIMEOUT)
        assert proxy.outside == []
        assert all(url.startswith(proxy.url) for url in watched.requests if url.startswith("http")), watched.requests


@pytest.mark.backends("sqlite")  # the login is the subject: no store is involved
def test_api_key_login(start_server, open_page):
    from playwright.sync_api import expect

    server = start_server("--api-key", "s3cret")
    watched = open_page()
    page = watched.page
    page.goto(server.url + "/")
    page.fill("#api-key", "wrong")
    page.keyboard.press("Enter")
    expect(page.locator(".login .error")).to_be_visible(timeout=EXPECT_TIMEOUT)
    page.fill("#api-key", "s3cret")
    page.keyboard.press("Enter")
    expect(figure(page, "total")).to_have_text("0", timeout=EXPECT_TIMEOUT)
    page.reload()  # the key lives in sessionStorage: still signed in
    expect(figure(page, "total")).to_have_text("0", timeout=EXPECT_TIMEOUT)
    page.click("#signout")
    expect(page.locator("#api-key")).to_be_visible()
    watched.forgive(r"status of 401")  # the answers that made the page ask for the key


@pytest.mark.parametrize(
    ("chosen", "bucket", "zone"),
    [
        ("1h", "minute", "UTC"),
        ("24h", "hour", "UTC"),
        ("7d", "hour", "UTC"),
        ("1h", "minute", "Asia/Kolkata"),  # half-hour offset: ticks still on the reader's whole minutes
        ("24h", "hour", "Asia/Shanghai"),
        ("7d", "hour", "America/New_York"),
    ],
)
def test_axis_ticks_are_unique_for_every_range(fed, open_page, chosen, bucket, zone):
    """Every x-axis label names a distinct moment (issue 18: "11/18 11/18 11/19 …", "8 PM" six times), and the
    last hour is drawn minute by minute."""
    from playwright.sync_api import expect

    server, _, _ = fed
    for viewport in (DESKTOP, PHONE):
        watched = open_page(viewport=viewport, timezone_id=zone)
        page = watched.page
        page.goto(server.url + f"/#/?range={chosen}")
        chart = figure(page, "chart")
        expect(chart).to_have_attribute("data-bucket", bucket, timeout=EXPECT_TIMEOUT)
        expect(chart).to_have_attribute("data-ticks", re.compile(r"^\[.+\]$"), timeout=EXPECT_TIMEOUT)
        labels = json.loads(chart.get_attribute("data-ticks"))
        assert len(labels) >= (4 if viewport is DESKTOP else 2), labels
        assert len(set(labels)) == len(labels), labels
        if chosen == "1h":
            assert all(re.fullmatch(r"(\d+/\d+\n)?\d+(:\d\d)?\s[AP]M", label) for label in labels), labels
        if chosen == "7d":  # one label a day, each a date
            assert all(re.fullmatch(r"\d+/\d+", label) for label in labels), labels
        if zone == "UTC":
            watched.screenshot(f"overview-{chosen}-{'phone' if viewport is PHONE else 'desktop'}")


def test_search_without_a_country_code_finds_the_86_message(fed, open_page):
    """`13800000006` typed as a Chinese user would: read with --default-country (86), not as a +1 number."""
    from playwright.sync_api import expect

    server, messages, _ = fed
    failed = next(m for m in messages if m.registered and m.nationcode == "86" and m.errmsg == "MK:0001")
    watched = open_page()
    page = watched.page
    page.goto(server.url + "/#/search")
    for typed in (failed.mobile, f"{failed.mobile[:3]} {failed.mobile[3:7]} {failed.mobile[7:]}"):
        page.fill("#q", typed)
        page.keyboard.press("Enter")
        timeline = figure(page, "phone")
        expect(timeline).to_contain_text(failed.sid, timeout=EXPECT_TIMEOUT)
        expect(timeline.locator("h2")).to_contain_text(failed.phone)
    page.fill("#q", "abc")  # not a number and no sid: said so, naming what was typed
    page.keyboard.press("Enter")
    expect(figure(page, "not-found")).to_contain_text("abc", timeout=EXPECT_TIMEOUT)
    watched.forgive(r"status of 404")


def test_the_overview_updates_while_open(start_server, open_page):
    """A callback arriving while the page is open shows within a few seconds, without a reload, and the
    "N seconds ago" of the last callback keeps counting."""
    from playwright.sync_api import expect

    server = start_server()
    watched = open_page()
    page = watched.page
    page.goto(server.url + "/#/?range=1h")
    expect(figure(page, "total")).to_have_text("0", timeout=EXPECT_TIMEOUT)
    page.evaluate("window.stillTheSamePage = true")
    item = {"sid": "2019:live0001", "mobile": "13800138000", "nationcode": "86", "report_status": "SUCCESS"}
    item |= {"errmsg": "DELIVRD", "description": "ok", "user_receive_time": datetime.now(UTC8).strftime("%F %T")}
    assert httpx.post(server.url + "/sms/callback", json=[item], timeout=10).json() == ACK
    expect(figure(page, "total")).to_have_text("1", timeout=30_000)  # polled: generous for a busy machine
    expect(figure(page, "delivered")).to_have_text("1")
    expect(page.locator(".u-wrap canvas")).to_have_count(1)  # the chart is there, drawn once
    expect(figure(page, "chart")).to_have_attribute("data-points", "1", timeout=30_000)
    shown = figure(page, "last-callback").inner_text()
    expect(figure(page, "last-callback")).not_to_have_text(shown, timeout=30_000)  # the seconds count on
    assert page.evaluate("window.stillTheSamePage") is True  # updated in place, never reloaded


def test_csv_download_holds_each_tables_rows(fed, open_page):
    """Each table has a CSV download of the rows it shows, under its column names."""
    from playwright.sync_api import expect

    server, _, _ = fed
    watched = open_page()
    page = watched.page
    page.goto(server.url + "/")
    expect(figure(page, "countries")).to_be_visible(timeout=EXPECT_TIMEOUT)
    for name in ("categories", "codes", "countries"):
        check_csv(page, name)
    page.goto(server.url + "/#/rejects")
    expect(figure(page, "reject")).to_have_count(1, timeout=EXPECT_TIMEOUT)
    check_csv(page, "rejects")


def check_csv(page, name: str) -> None:
    table = figure(page, name)
    with page.expect_download() as download:
        figure(page, f"{name}-csv").click()
    assert download.value.suggested_filename.startswith(
        f"delivrd-{name}"
    ) and download.value.suggested_filename.endswith(".csv")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header = [cell.strip() for cell in table.locator("thead th").all_inner_texts()]
    assert rows[0] == header
    shown = [[cell.strip() for cell in row.locator("td").all_inner_texts()] for row in table.locator("tbody tr").all()]
    assert len(rows) - 1 == len(shown) > 0
    for got, want in zip(rows[1:], shown, strict=True):
        assert [g.lstrip("'").replace(",", "") for g in got] == [w.replace(",", "") for w in want], (got, want)


def test_days_start_at_midnight_in_the_servers_zone(start_server, open_page):
    """With --timezone Asia/Shanghai a receipt at 23:30 Beijing time is on that day's bar and one at 00:30 on the
    next day's, each bar starting at a Beijing midnight (16:00 UTC), whatever the reader's own zone."""
    from playwright.sync_api import expect

    server = start_server("--timezone", "Asia/Shanghai")
    for n, when in enumerate(("2026-11-24T23:30:00+08:00", "2026-11-25T00:30:00+08:00")):
        sent = {"SerialNo": f"5000:tz{n}", "PhoneNumber": f"+861380013800{n}", "Code": "Ok"}
        call = {"SentAt": when, "SendStatusSet": [sent]}
        assert httpx.post(server.url + "/v1/messages", json=call, timeout=10).status_code == 200
    for zone in ("UTC", "America/New_York"):
        page = open_page(timezone_id=zone).page
        page.goto(server.url + "/#/?since=2026-11-15T00:00:00Z&until=2026-11-30T00:00:00Z")
        chart = figure(page, "chart")
        expect(chart).to_have_attribute("data-bucket", "day", timeout=EXPECT_TIMEOUT)
        expect(chart).to_have_attribute("data-points", "2", timeout=EXPECT_TIMEOUT)
        bars = json.loads(chart.get_attribute("data-bars"))
        assert bars == [["2026-11-23T16:00:00.000Z", 1], ["2026-11-24T16:00:00.000Z", 1]], bars
