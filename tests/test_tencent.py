"""Decoding Tencent's wire format: lenient where unambiguous, strict where meaning would be guessed."""

import json

import pytest

from delivrd import results, tencent

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
    names = ("sid", "dedup_key", "nationcode", "mobile", "report_status", "errmsg", "description",
             "user_receive_time", "ext", "extra", "phone", "user_receive_ts")  # fmt: skip
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
    rows, rejects = tencent.parse_reports(json.dumps(items).encode())
    assert rejects == []
    assert rows == [tencent.report_row(item) for item in items]
    # one odd item sends the whole body down the careful path, which keeps the good ones
    rows, rejects = tencent.parse_reports(json.dumps([*items, {"sid": "3"}]).encode())
    assert rows == [tencent.report_row(item) for item in items]
    assert [(q.index, q.reason) for q in rejects] == [(2, "missing required field(s): mobile, report_status")]
