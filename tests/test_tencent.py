"""Decoding Tencent's wire format: lenient where unambiguous, strict where meaning would be guessed."""

import json
from datetime import UTC, datetime

import pytest

from delivrd.domain import results, storable
from delivrd.providers.tencent import decode as tencent

SAMPLE = {
    "user_receive_time": "2015-10-17 08:03:04",
    "nationcode": "86",
    "mobile": "13800138000",
    "report_status": "SUCCESS",
    "errmsg": "DELIVRD",
    "description": "The SMS message is successfully delivered",
    "sid": "2019:5388840000000000001",
}


def row_dict(item):
    names = (
        "sid",
        "dedup_key",
        "nationcode",
        "mobile",
        "report_status",
        "errmsg",
        "description",
        "user_receive_time",
        "ext",
        "extra",
        "phone",
        "user_receive_ts",
    )
    return dict(zip(names, tencent.report_row(item)))


def test_sample_row_has_fields_and_derived_values():
    row = row_dict(SAMPLE)
    assert row["sid"] == SAMPLE["sid"]
    assert row["phone"] == "+8613800138000"
    # 08:03:04 in Beijing is 00:03:04 UTC
    assert row["user_receive_ts"] == 1445040184
    assert row["extra"] is None and row["ext"] is None


def test_numbers_are_kept_as_their_text():
    row = row_dict({**SAMPLE, "nationcode": 86, "mobile": 13800138000, "sid": 12345})
    assert (row["nationcode"], row["mobile"], row["sid"]) == ("86", "13800138000", "12345")
    assert row["phone"] == "+8613800138000"


def test_unknown_fields_are_kept_as_json():
    row = row_dict({**SAMPLE, "ext": "ctx", "push_id": 7, "nested": {"a": [1]}})
    assert row["ext"] == "ctx"
    assert json.loads(row["extra"]) == {"push_id": 7, "nested": {"a": [1]}}


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"sid": None}, "missing required field(s): sid"),
        ({"mobile": ""}, "missing required field(s): mobile"),
        ({"report_status": "DELIVERED"}, "report_status must be SUCCESS or FAIL"),
        ({"report_status": "success"}, "report_status must be SUCCESS or FAIL"),
        ({"errmsg": True}, "field 'errmsg' must be a string, got a boolean"),
        ({"sid": ["a"]}, "field 'sid' must be a string, got an array"),
    ],
)
def test_strict_where_meaning_would_be_guessed(change, reason):
    item = {k: v for k, v in {**SAMPLE, **change}.items() if v is not None}
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        tencent.report_row(item)


def test_missing_optional_fields_are_stored_as_null():
    row = row_dict({"sid": "s", "mobile": "1", "report_status": "FAIL"})
    assert row["errmsg"] is None and row["user_receive_time"] is None and row["user_receive_ts"] is None


def test_unparseable_receive_time_is_kept_raw():
    row = row_dict({**SAMPLE, "user_receive_time": "yesterday"})
    assert row["user_receive_time"] == "yesterday" and row["user_receive_ts"] is None


def test_masked_mobile_has_no_phone():
    assert tencent.e164("86", "13xxxxxxxxx") is None
    assert tencent.e164("86", "１３８") is None  # full-width digits are not E.164


def test_same_report_same_key_and_different_status_different_key():
    assert row_dict(SAMPLE)["dedup_key"] == row_dict(dict(SAMPLE))["dedup_key"]
    assert row_dict(SAMPLE)["dedup_key"] != row_dict({**SAMPLE, "report_status": "FAIL"})["dedup_key"]
    # a missing field and an empty one are different reports
    assert tencent.dedup_key("a", None) != tencent.dedup_key("a", "")


def test_decode_body_shapes():
    assert tencent.decode_body(b"[]") == []
    assert tencent.decode_body(json.dumps(SAMPLE).encode()) == [SAMPLE]
    with pytest.raises(tencent.BodyError) as not_json:
        tencent.decode_body(b"{nope")
    assert not_json.value.code == results.NOT_JSON
    with pytest.raises(tencent.BodyError) as wrong:
        tencent.decode_body(b'"text"')
    assert wrong.value.code == results.BAD_SHAPE


def test_reply_row_accepts_numeric_string_time_and_rejects_words():
    base = {"extend": "", "mobile": "13800138000", "nationcode": "86", "sign": "S", "text": "TD"}
    assert tencent.reply_row({**base, "time": "1700000000"})[6] == 1700000000
    with pytest.raises(ValueError, match="Unix seconds"):
        tencent.reply_row({**base, "time": "noon"})
    with pytest.raises(ValueError, match="mobile"):
        tencent.reply_row({**base, "mobile": None, "time": 1})


def test_fast_path_and_careful_path_agree():
    items = [SAMPLE, {**SAMPLE, "sid": "2", "ext": "ctx", "errmsg": None}]
    decoded = tencent.parse_reports(json.dumps(items).encode())
    rows, rejects = decoded.rows, decoded.rejects
    assert rejects == []
    assert rows == [tencent.report_row(item) for item in items]
    # one odd item sends the whole body down the careful path, which keeps the good ones
    decoded = tencent.parse_reports(json.dumps([*items, {"sid": "3"}]).encode())
    rows, rejects = decoded.rows, decoded.rejects
    assert rows == [tencent.report_row(item) for item in items]
    assert [(q.index, q.reason) for q in rejects] == [(2, "missing required field(s): mobile, report_status")]


GOOD = {
    "sid": "a1",
    "mobile": "13800138000",
    "nationcode": "86",
    "report_status": "SUCCESS",
    "errmsg": "DELIVRD",
    "description": "ok",
    "user_receive_time": "2026-11-24 10:00:00",
}
GOOD_JSON = json.dumps(GOOD, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("bad_item", "reason"),
    [
        (b'{"sid":"a2","mobile":"1","report_status":"SUCCESS","description":"\xc8\xb7\xc8\xcf"}', "not UTF-8"),
        (b'{"sid":"a2","mobile":"1","report_status":"FAIL","n":1e999}', "out of range"),
        (b'{"sid":"a2","mobile":"1","report_status":"FAIL","n":1' + b"0" * 5000 + b"}", "out of range"),
        (b'{"sid":"a2","sid":"a3","mobile":"1","report_status":"FAIL"}', "'sid' appears more than once"),
        (b'{"sid":"a2","mobile":"1","report_status":"FAIL","errmsg":"x","errmsg":"y"}', "'errmsg' appears more"),
        (b'{"sid":"' + b"s" * 129 + b'","mobile":"1","report_status":"FAIL"}', "longer than 128"),
        (b'{"sid":"a2","mobile":"1","report_status":"FAIL","errmsg":"\\u0000"}', "NUL"),
    ],
)
def test_an_item_the_store_cannot_hold_is_quarantined_alone(bad_item, reason):
    decoded = tencent.parse_reports(b"[" + GOOD_JSON + b"," + bad_item + b"]")
    assert [row[0] for row in decoded.rows] == ["a1"]
    assert decoded.rejected == 1 and decoded.rejects[0].index == 1
    assert reason in decoded.rejects[0].reason


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[" * 1000 + b"]" * 1000, results.BAD_SHAPE),
        (b"[" + GOOD_JSON + b"," + b"[" * 3000 + b"]" * 3000 + b"]", results.BAD_SHAPE),
        (b"[" + b"0," * 10_000 + b"0]", results.BAD_SHAPE),
        (b"\xff\xfe[\x00", results.NOT_JSON),
        (b"{nope", results.NOT_JSON),
        (b'{"a":"\xc8', results.NOT_JSON),
        (b"", results.NOT_JSON),
        (b'"text"', results.BAD_SHAPE),
    ],
)
def test_any_bytes_give_a_body_error_or_items_never_another_exception(body, code):
    for parse in (tencent.parse_reports, tencent.parse_replies):
        with pytest.raises(tencent.BodyError) as error:
            parse(body)
        assert error.value.code == code


def test_a_lone_object_with_undecodable_text_is_quarantined_not_refused():
    decoded = tencent.parse_reports(b'{"sid":"a2","mobile":"1","report_status":"FAIL","description":"\xc8\xcf"}')
    assert decoded.rows == [] and decoded.rejected == 1 and "not UTF-8" in decoded.rejects[0].reason


def test_times_that_cannot_be_shown_are_kept_as_text_only():
    for text in ("0001-01-01 00:00:00", "9999-12-31 23:59:59"):
        (row,) = tencent.parse_reports(json.dumps([{**GOOD, "user_receive_time": text}]).encode()).rows
        assert row[7] == text and row[11] is None
    (row,) = tencent.parse_reports(json.dumps([GOOD]).encode()).rows
    assert row[11] == int(datetime(2026, 11, 24, 2, tzinfo=UTC).timestamp())  # 10:00 at UTC+8


@pytest.mark.parametrize("time", [18446744073709551616, "99999999999999999999", 1e20, -(2**63) - 1, "²"])
def test_a_reply_time_outside_what_can_be_stored_is_quarantined(time):
    decoded = tencent.parse_replies(json.dumps({"mobile": "13800138000", "text": "hi", "time": time}).encode())
    assert decoded.rows == [] and decoded.rejected == 1 and "'time'" in decoded.rejects[0].reason


def test_many_bad_items_give_a_hundred_rows_and_a_count():
    decoded = tencent.parse_reports(b"[" + b"0," * 5000 + GOOD_JSON + b"]")
    assert len(decoded.rows) == 1 and decoded.rejected == 5000
    assert len(decoded.rejects) == tencent.MAX_REJECT_ROWS + 1
    assert decoded.rejects[-1].index is None and "4900 more item(s)" in decoded.rejects[-1].reason


def test_a_lone_surrogate_escape_is_quarantined_alone():
    body = b"[" + GOOD_JSON + b',"\\ud800",{"a":"x\\ud83d"},{"b":1e999}]'
    decoded = tencent.parse_reports(body)
    assert [row[0] for row in decoded.rows] == ["a1"]
    assert [(q.index, q.reason) for q in decoded.rejects] == [
        (1, "text holds a lone surrogate escape or bytes that are not UTF-8"),
        (2, "text holds a lone surrogate escape or bytes that are not UTF-8"),
        (3, "a number is out of range"),
    ]
    lone = tencent.parse_reports(b'{"sid":"\\ud800","mobile":"1","report_status":"FAIL"}')
    assert lone.rows == [] and lone.rejected == 1


def test_extra_fields_nest_at_most_the_depth_reads_can_decode_again():
    def report(levels: int) -> bytes:
        return b'[{"sid":"d","mobile":"1","report_status":"SUCCESS","extra":' + b"[" * levels + b"]" * levels + b"}]"

    assert len(tencent.parse_reports(report(storable.MAX_DEPTH - 1)).rows) == 1  # with the object around it
    too_deep = tencent.parse_reports(report(500))  # ingest could decode it; reads deeper in the stack could not
    assert too_deep.rows == [] and "deeper than 64 levels" in too_deep.rejects[0].reason


def test_a_lone_surrogate_beside_a_number_no_decoder_holds_fails_alone():
    body = b"[" + GOOD_JSON + b',{"sid":"b","mobile":"1","report_status":"SUCCESS","description":"\\ud800","ext":'
    decoded = tencent.parse_reports(body + b"1" * 5000 + b"}]")
    assert [row[0] for row in decoded.rows] == ["a1"] and decoded.rejects[0].reason == "a number is out of range"


def test_tencent_is_a_provider_whose_functions_are_the_decoders():
    from delivrd.providers import default
    from delivrd.providers.base import Provider

    provider = default()
    assert isinstance(provider, Provider) and provider.name == "tencent"
    assert (provider.parse_reports, provider.parse_replies) == (tencent.parse_reports, tencent.parse_replies)
    assert provider.category("DELIVRD") == "delivered"
