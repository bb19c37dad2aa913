"""Tencent Cloud SMS wire format: decode a push into rows, encode the ack.

Everything that knows Tencent's field names lives here, so another provider's
format is one more module. Decoding is lenient where the meaning is unambiguous
(a JSON number where a string was expected is kept as its string) and strict where
it would be guessed (a report with no `sid`, `mobile` or a `report_status` other
than SUCCESS/FAIL is quarantined with a reason, never stored as a report).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from delivrd import results

#: Tencent's timestamps (`user_receive_time`) are Beijing time.
UTC8 = timezone(timedelta(hours=8), "UTC+8")

REPORT_FIELDS = ("sid", "nationcode", "mobile", "report_status", "errmsg", "description", "user_receive_time", "ext")
REQUIRED_REPORT_FIELDS = ("sid", "mobile", "report_status")
REPORT_STATUSES = frozenset({"SUCCESS", "FAIL"})
REPLY_FIELDS = ("extend", "mobile", "nationcode", "sign", "text", "time")

_KNOWN_REPORT = frozenset(REPORT_FIELDS)
_KNOWN_REPLY = frozenset(REPLY_FIELDS)
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class BodyError(ValueError):
    """The whole body is unusable (not JSON, or not an array/object)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class Quarantined:
    """An item that could not be understood, kept with its reason and raw text."""

    index: int | None
    reason: str
    raw: str


def _text(item: dict[str, Any], name: str) -> str | None:
    """A field as text: strings as they are, numbers as their JSON text, absent/null as None.

    Raises ValueError for booleans, arrays and objects: turning those into text
    would guess at a meaning.
    """
    value = item.get(name)
    if value is None or type(value) is str:
        return value
    if type(value) is int or type(value) is float:
        return _encode(value).decode()
    raise ValueError(f"field {name!r} must be a string, got {_json_type(value)}")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _extras(item: dict[str, Any], known: frozenset[str]) -> str | None:
    """Fields Tencent may add later, kept as a JSON object text (None when there are none)."""
    if item.keys() <= known:
        return None
    return _encode({k: v for k, v in item.items() if k not in known}).decode()


def parse_user_receive_time(text: str | None) -> int | None:
    """`YYYY-MM-DD HH:MM:SS` in UTC+8 → Unix seconds; None when absent or not in that shape."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC8)
    return int(moment.timestamp())


def e164(nationcode: str | None, mobile: str | None) -> str | None:
    """`+<nationcode><mobile>` when both are plain digits (masked numbers give None)."""
    if not nationcode or not mobile:
        return None
    if not (nationcode.isascii() and nationcode.isdigit() and mobile.isascii() and mobile.isdigit()):
        return None
    return f"+{nationcode}{mobile}"


def dedup_key(*parts: str | None) -> bytes:
    """A fixed-size identity for a report: the same push retried gives the same key."""
    joined = "\x1f".join("\x00" if p is None else p for p in parts)
    return hashlib.blake2b(joined.encode(), digest_size=16).digest()


def decode_body(body: bytes) -> list[Any]:
    """The items of a push: a JSON array as it is, a lone object as a one-item list."""
    try:
        data = _decode(body)
    except msgspec.DecodeError as exc:
        raise BodyError(results.NOT_JSON, f"body is not valid JSON: {exc}") from None
    if type(data) is list:
        return data
    if type(data) is dict:
        return [data]
    raise BodyError(results.BAD_SHAPE, f"body must be a JSON array of reports or one report object, got {_json_type(data)}")


def report_row(item: Any) -> tuple:
    """One status report → the stored row (without `received_at`, added by the caller).

    Row order: dedup_key, sid, nationcode, mobile, report_status, errmsg,
    description, user_receive_time, ext, extra, phone, user_receive_ts.
    Raises ValueError with a reason a person can act on.
    """
    if type(item) is not dict:
        raise ValueError(f"report must be a JSON object, got {_json_type(item)}")
    sid = _text(item, "sid")
    mobile = _text(item, "mobile")
    status = _text(item, "report_status")
    missing = [n for n, v in (("sid", sid), ("mobile", mobile), ("report_status", status)) if not v]
    if missing:
        raise ValueError(f"missing required field(s): {', '.join(missing)}")
    if status not in REPORT_STATUSES:
        raise ValueError(f"report_status must be SUCCESS or FAIL, got {status!r}")
    nationcode = _text(item, "nationcode")
    errmsg = _text(item, "errmsg")
    description = _text(item, "description")
    receive_time = _text(item, "user_receive_time")
    ext = _text(item, "ext")
    return (
        dedup_key(sid, nationcode, mobile, status, errmsg, receive_time),
        sid,
        nationcode,
        mobile,
        status,
        errmsg,
        description,
        receive_time,
        ext,
        _extras(item, _KNOWN_REPORT),
        e164(nationcode, mobile),
        parse_user_receive_time(receive_time),
    )


def reply_row(item: Any) -> tuple:
    """One reply (MO) callback → the stored row (without `received_at`).

    Row order: dedup_key, extend, mobile, nationcode, sign, text, time, extra, phone.
    `time` is Unix seconds; a numeric string is accepted as the number it spells.
    """
    if type(item) is not dict:
        raise ValueError(f"reply must be a JSON object, got {_json_type(item)}")
    mobile = _text(item, "mobile")
    if not mobile:
        raise ValueError("missing required field(s): mobile")
    extend = _text(item, "extend")
    nationcode = _text(item, "nationcode")
    sign = _text(item, "sign")
    text = _text(item, "text")
    raw_time = item.get("time")
    if raw_time is None or (type(raw_time) is int):
        when = raw_time
    elif type(raw_time) is float and raw_time.is_integer():
        when = int(raw_time)
    elif type(raw_time) is str and raw_time.strip().isdigit():
        when = int(raw_time)
    else:
        raise ValueError(f"field 'time' must be Unix seconds, got {raw_time!r}")
    return (
        dedup_key(extend, mobile, nationcode, sign, text, None if when is None else str(when)),
        extend,
        mobile,
        nationcode,
        sign,
        text,
        when,
        _extras(item, _KNOWN_REPLY),
        e164(nationcode, mobile),
    )


def raw_text(item: Any) -> str:
    """An item as JSON text, for the quarantine."""
    return _encode(item).decode()
