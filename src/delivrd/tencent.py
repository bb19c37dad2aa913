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
from functools import lru_cache
from typing import Any, Callable

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

    Raises ValueError for booleans, arrays and objects (turning those into text
    would guess at a meaning) and for text holding U+0000.
    """
    value = item.get(name)
    if value is None:
        return value
    if type(value) is str:
        if "\x00" in value:  # PostgreSQL text cannot hold it; refused alike on every backend
            raise ValueError(f"field {name!r} contains a NUL character (\\u0000), which cannot be stored as text")
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


@lru_cache(maxsize=4096)  # a push's reports mostly share a few seconds
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


def dedup_key(*parts: str | None, size: int = 8) -> bytes:
    """A fixed-size identity: the same push retried gives the same key.

    Reports are unique on (sid, key of the other identifying fields), so a sid
    lookup and the duplicate check share one index.
    """
    return hashlib.blake2b(_encode(parts), digest_size=size).digest()


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
    raise BodyError(
        results.BAD_SHAPE, f"body must be a JSON array of reports or one report object, got {_json_type(data)}"
    )


class _CleanReport(msgspec.Struct, forbid_unknown_fields=True):
    """A report exactly as Tencent documents it: the common case, decoded in C with no field loop."""

    sid: str
    mobile: str
    report_status: str
    nationcode: str | None = None
    errmsg: str | None = None
    description: str | None = None
    user_receive_time: str | None = None
    ext: str | None = None


_decode_clean = msgspec.json.Decoder(list[_CleanReport] | _CleanReport).decode


def _report(sid: str, nationcode: str | None, mobile: str, status: str, errmsg: str | None,
            description: str | None, receive_time: str | None, ext: str | None, extra: str | None) -> tuple:  # fmt: skip
    return (
        sid,
        dedup_key(nationcode, mobile, status, errmsg, receive_time),
        nationcode,
        mobile,
        status,
        errmsg,
        description,
        receive_time,
        ext,
        extra,
        e164(nationcode, mobile),
        parse_user_receive_time(receive_time),
    )


def parse_reports(body: bytes) -> tuple[list[tuple], list[Quarantined]]:
    """A status-report push → (stored rows, quarantined items); BodyError when the body is unusable.

    Row order: sid, dedup_key, nationcode, mobile, report_status, errmsg, description,
    user_receive_time, ext, extra, phone, user_receive_ts.
    """
    try:
        clean = _decode_clean(body)
    except msgspec.ValidationError:
        clean = None  # numbers, extra fields, bad items, a wrong shape: the careful path below
    except msgspec.DecodeError as exc:
        raise BodyError(results.NOT_JSON, f"body is not valid JSON: {exc}") from None
    if clean is not None and b"\\u0000" not in body:  # a NUL in a string takes the careful path, to be refused
        items = clean if type(clean) is list else [clean]
        if all(r.sid and r.mobile and r.report_status in REPORT_STATUSES for r in items):
            return [
                _report(r.sid, r.nationcode, r.mobile, r.report_status, r.errmsg, r.description,
                        r.user_receive_time, r.ext, None)
                for r in items
            ], []  # fmt: skip
    return _each(decode_body(body), report_row)


def parse_replies(body: bytes) -> tuple[list[tuple], list[Quarantined]]:
    """A reply push (one object; an array is taken item by item) → (stored rows, quarantined items)."""
    return _each(decode_body(body), reply_row)


def _each(items: list[Any], parse: Callable[[Any], tuple]) -> tuple[list[tuple], list[Quarantined]]:
    rows: list[tuple] = []
    rejects: list[Quarantined] = []
    for index, item in enumerate(items):
        try:
            rows.append(parse(item))
        except ValueError as exc:
            rejects.append(Quarantined(index, str(exc), raw_text(item)))
    return rows, rejects


def report_row(item: Any) -> tuple:
    """One status report, checked field by field; raises ValueError with a reason a person can act on."""
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
    return _report(
        sid,  # type: ignore[arg-type]
        _text(item, "nationcode"),
        mobile,  # type: ignore[arg-type]
        status,
        _text(item, "errmsg"),
        _text(item, "description"),
        _text(item, "user_receive_time"),
        _text(item, "ext"),
        _extras(item, _KNOWN_REPORT),
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
        dedup_key(extend, mobile, nationcode, sign, text, None if when is None else str(when), size=16),
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
