"""Simulated reports: the same seed gives the same reports, and they look like Tencent's."""

import re
from collections import Counter
from datetime import UTC, datetime

import phonenumbers

from delivrd.providers.tencent import decode as tencent
from delivrd.simulate.content import COUNTRIES, GLOBAL_FAILURES, MAINLAND_FAILURES, Reports, encode, malformed

START = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 08:00 in Beijing


def test_the_same_seed_gives_the_same_reports():
    first = Reports(7, start=START, ext_ratio=0.3).take(500)
    assert first == Reports(7, start=START, ext_ratio=0.3).take(500)
    assert first != Reports(8, start=START, ext_ratio=0.3).take(500)
    # taking in pieces does not change the stream
    pieces = Reports(7, start=START, ext_ratio=0.3)
    assert pieces.take(123) + pieces.take(377) == first


def test_no_handset_receives_after_the_start_however_many_reports_follow():
    """The start is now by default: a later handset time would claim a delivery that has not happened yet."""
    times = [item["user_receive_time"] for item in Reports(4, start=START).take(10_000)]
    assert max(times) <= "2026-11-24 08:00:00" and min(times) >= "2026-11-24 07:59:31"
    assert len(set(times)) == 30  # spread over the window, in no order


def test_mobiles_are_valid_national_numbers_for_their_country():
    reports = Reports(1, start=START)
    for nationcode in COUNTRIES:
        for _ in range(200):
            number = phonenumbers.parse(f"+{nationcode}{reports.mobile(nationcode)}")
            assert phonenumbers.is_valid_number(number), phonenumbers.format_number(number, 1)
            assert phonenumbers.number_type(number) in (
                phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
            )


def test_the_mix_is_mostly_mainland_with_the_success_ratio_asked_for():
    items = Reports(3, start=START, success_ratio=0.8).take(5000)
    countries = Counter(item["nationcode"] for item in items)
    assert countries["86"] / len(items) > 0.75 and len(countries) >= 5
    success = sum(item["report_status"] == "SUCCESS" for item in items) / len(items)
    assert 0.77 < success < 0.83
    known = {code for code, _, _ in MAINLAND_FAILURES + GLOBAL_FAILURES}
    for item in items:
        assert (item["errmsg"] == "DELIVRD") == (item["report_status"] == "SUCCESS")
        assert item["errmsg"] == "DELIVRD" or item["errmsg"] in known


def test_fields_are_shaped_like_tencents():
    items = Reports(5, start=START, ext_ratio=0.5).take(300)
    for item in items:
        assert set(item) <= set(tencent.REPORT_FIELDS)
        pattern = r"2019:\d{19}" if item["nationcode"] == "86" else r"5000:\d{28}"
        assert re.fullmatch(pattern, item["sid"])
        # Beijing time: 00:00 UTC is 08:00 there, and each report reached its handset in the 30 s before
        assert re.fullmatch(r"2026-11-24 07:59:[3-5]\d|2026-11-24 08:00:00", item["user_receive_time"]), item[
            "user_receive_time"
        ]
    assert 100 < sum("ext" in item for item in items) < 200
    decoded = tencent.parse_reports(encode(items))
    rows, rejects = decoded.rows, decoded.rejects
    assert len(rows) == 300 and not rejects


def test_malformed_bodies_carry_their_valid_reports():
    good = Reports(9, start=START).take(3)
    body, kept = malformed("bad_items", good)
    decoded = tencent.parse_reports(body)
    rows, rejects = decoded.rows, decoded.rejects
    assert kept == good and len(rows) == 3 and len(rejects) == 2
    for kind in ("not_json", "not_array"):
        body, kept = malformed(kind, good)
        assert kept == []
