"""Days in a time zone: `tz=` on /v1/stats, the server's --timezone, and `delivrd stats --timezone`, on both
backends. Two receipts an hour apart around Beijing midnight fall on two Beijing days and on one UTC day."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

from delivrd.domain.push import CALLBACK, Push
from delivrd.providers.tencent.decode import report_row

#: a receipt just before and one just after midnight in Beijing (15:30 and 16:30 UTC, the same UTC day)
LATE = datetime.fromisoformat("2026-11-24T23:30:00+08:00")
EARLY = datetime.fromisoformat("2026-11-25T00:30:00+08:00")
BEIJING = {"2026-11-24": 1, "2026-11-25": 1}


def store_receipts(app) -> None:
    """Two receipts nobody registered a send for, received at LATE and EARLY (their messages' times)."""

    async def write() -> None:
        for n, moment in enumerate((LATE, EARLY)):
            item = {
                "sid": f"5000:{n}",
                "mobile": f"1380013800{n}",
                "nationcode": "86",
                "report_status": "SUCCESS",
                "errmsg": "DELIVRD",
                "user_receive_time": moment.strftime("%Y-%m-%d %H:%M:%S"),
            }
            received = int(moment.timestamp()) * 1_000_000
            await app.asgi.store.write(
                [Push(CALLBACK, received, "127.0.0.1", 200, "stored", 1, b"[]", [report_row(item)])]
            )

    app.run(write)


def days(answer: dict) -> dict:
    return {g["key"]: g["total"] for g in answer["groups"]}


def test_tz_puts_each_receipt_on_its_beijing_day(start_app):
    app = start_app()
    store_receipts(app)
    beijing = app.client.get("/v1/stats", params={"by": "day", "tz": "Asia/Shanghai"}).json()
    assert days(beijing) == BEIJING and beijing["timezone"] == "Asia/Shanghai"
    assert days(app.client.get("/v1/stats", params={"by": "day"}).json()) == {"2026-11-24": 2}  # UTC by default
    hours = app.client.get("/v1/stats", params={"by": "hour", "tz": "Asia/Shanghai"}).json()
    assert [g["key"] for g in hours["groups"]] == ["2026-11-24T23:00:00+08:00", "2026-11-25T00:00:00+08:00"]
    # a range given in Beijing time: only the second receipt
    since = {"since": "2026-11-25T00:00:00+08:00", "by": "day", "tz": "Asia/Shanghai"}
    assert days(app.client.get("/v1/stats", params=since).json()) == {"2026-11-25": 1}


def test_the_servers_timezone_is_the_default_and_a_bad_zone_is_a_clear_error(start_app):
    app = start_app(timezone="Asia/Shanghai")
    store_receipts(app)
    assert days(app.client.get("/v1/stats", params={"by": "day"}).json()) == BEIJING
    assert days(app.client.get("/v1/stats", params={"by": "day", "tz": "UTC"}).json()) == {"2026-11-24": 2}
    bad = app.client.get("/v1/stats", params={"by": "day", "tz": "Mars/Olympus"})
    assert bad.status_code == 400 and "Mars/Olympus" in bad.json()["errmsg"] and "Asia/Shanghai" in bad.json()["errmsg"]


def test_delivrd_stats_takes_the_zone(start_app):
    app = start_app()
    store_receipts(app)

    def stats(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "delivrd", "stats", "--by", "day", "--json", *app.database_args(), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "DELIVRD_TIMEZONE": ""},
        )

    beijing = stats("--timezone", "Asia/Shanghai")
    assert beijing.returncode == 0, beijing.stderr
    assert days(json.loads(beijing.stdout)) == BEIJING
    assert days(json.loads(stats().stdout)) == {"2026-11-24": 2}
    bad = stats("--timezone", "Beijing")
    assert bad.returncode == 2 and "not a time zone: 'Beijing'" in bad.stderr


def test_days_follow_a_zone_across_its_change_of_offset(start_app):
    """London leaves summer time on 2026-10-25 (01:00 UTC): each message lands on its London day on both sides."""
    app = start_app()
    moments = [
        "2026-10-24T23:30:00+01:00",
        "2026-10-25T00:30:00+01:00",
        "2026-10-25T23:30:00+00:00",
        "2026-10-26T00:30:00+00:00",
    ]

    async def write() -> None:
        for n, text in enumerate(moments):
            item = {
                "sid": f"5000:dst{n}",
                "mobile": f"1380013801{n}",
                "nationcode": "86",
                "report_status": "FAIL",
                "errmsg": "MK:0001",
            }
            received = int(datetime.fromisoformat(text).timestamp()) * 1_000_000
            await app.asgi.store.write(
                [Push(CALLBACK, received, "127.0.0.1", 200, "stored", 1, b"[]", [report_row(item)])]
            )

    app.run(write)
    london = app.client.get("/v1/stats", params={"by": "day", "tz": "Europe/London"}).json()
    assert days(london) == {"2026-10-24": 1, "2026-10-25": 2, "2026-10-26": 1}
    assert days(app.client.get("/v1/stats", params={"by": "day"}).json()) == {
        "2026-10-24": 2,
        "2026-10-25": 1,
        "2026-10-26": 1,
    }


def test_a_half_hour_zone_counts_an_hour_across_midnight_on_the_day_it_starts(start_app):
    """The documented approximation for zones whose offset is not whole hours (Asia/Kolkata, +05:30): 23:45 and
    00:15 IST share the UTC hour 18:00-19:00, which starts at 23:30 IST on the 24th, so both count on the 24th;
    00:45 IST (the next UTC hour) is on the 25th."""
    app = start_app()

    async def write() -> None:
        for n, text in enumerate(
            ("2026-11-24T23:45:00+05:30", "2026-11-25T00:15:00+05:30", "2026-11-25T00:45:00+05:30")
        ):
            item = {
                "sid": f"5000:in{n}",
                "mobile": f"1380013802{n}",
                "nationcode": "86",
                "report_status": "FAIL",
                "errmsg": "MK:0001",
            }
            received = int(datetime.fromisoformat(text).timestamp()) * 1_000_000
            await app.asgi.store.write(
                [Push(CALLBACK, received, "127.0.0.1", 200, "stored", 1, b"[]", [report_row(item)])]
            )

    app.run(write)
    kolkata = app.client.get("/v1/stats", params={"by": "day", "tz": "Asia/Kolkata"}).json()
    assert days(kolkata) == {"2026-11-24": 2, "2026-11-25": 1}
    # at a range's edge the minutes are placed exactly: from 00:00 IST on the 25th, only the two after midnight
    since = {"by": "day", "tz": "Asia/Kolkata", "since": "2026-11-25T00:00:00+05:30"}
    assert days(app.client.get("/v1/stats", params=since).json()) == {"2026-11-25": 2}
