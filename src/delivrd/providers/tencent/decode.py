"""Tencent Cloud SMS wire format: a status-report or reply push decoded into rows to store and items to quarantine.

Everything that knows Tencent's field names lives here (in the terms of `providers.base`),
so another provider's format is one more package. Decoding is lenient where the meaning is unambiguous
(a JSON number where a string was expected is kept as its string) and strict where
it would be guessed (a report with no `sid`, `mobile` or a `report_status` other
than SUCCESS/FAIL is quarantined with a reason, never stored as a report).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

import msgspec

from delivrd.domain import results, storable
from delivrd.domain.clock import UTC8
from delivrd.domain.phones import e164
from delivrd.providers.base import BodyError, Decoded, Quarantined, preview
from delivrd.store.columns import REPLIES, REPORTS

REPORT_FIELDS = ("sid", "nationcode", "mobile", "report_status", "errmsg", "description", "user_receive_time", "ext")
REQUIRED_REPORT_FIELDS = ("sid", "mobile", "report_status")
REPORT_STATUSES = frozenset({"SUCCESS", "FAIL"})
REPLY_FIELDS = ("extend", "mobile", "nationcode", "sign", "text", "time")

_KNOWN_REPORT = frozenset(REPORT_FIELDS)
_KNOWN_REPLY = frozenset(REPLY_FIELDS)
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def _text(item: dict[str, Any], name: str, key: bool = False) -> str | None:
    """A field as text: strings as they are, numbers as their JSON text, absent/null as None.

    Raises ValueError for booleans, arrays and objects (turning those into text
    would guess at a meaning) and for text a store cannot hold (`storable.text`).
    """
    value = item.get(name)
    if value is None:
        return value
    if type(value) is str:
        return storable.text(name, value, key=key)
    if type(value) is int or type(value) is float:
        return storable.text(name, _encode(value).decode(), key=key)
    raise ValueError(f"field {name!r} must be a string, got {_json_type(value)}")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _shown(value: Any, limit: int = 80) -> str:
    """A value for a reason a person reads: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _extras(item: dict[str, Any], known: frozenset[str]) -> str | None:
    """Fields Tencent may add later, kept as a JSON object text (None when there are none)."""
    if item.keys() <= known:
        return None
    extra = {k: v for k, v in item.items() if k not in known}
    if not storable.depth(extra):
        raise ValueError(f"fields other than Tencent's nest deeper than {storable.MAX_DEPTH} levels")
    return _encode(extra).decode()


@lru_cache(maxsize=4096)  # a push's reports mostly share a few seconds
def parse_user_receive_time(text: str | None) -> int | None:
    """`YYYY-MM-DD HH:MM:SS` in UTC+8 → Unix seconds; None when absent, not in that shape, or a moment
    the API cannot show (`storable.seconds`)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC8)
    try:
        seconds = int(moment.timestamp())
    except OverflowError:  # a valid local date whose UTC one is outside years 1-9999
        return None
    return seconds if storable.seconds(seconds) else None  # else kept as text only, shown as such


def dedup_key(*parts: str | None, size: int = 8) -> bytes:
    """A fixed-size identity: the same push retried gives the same key.

    Reports are unique on (sid, key of the other identifying fields), so a sid
    lookup and the duplicate check share one index.
    """
    return hashlib.blake2b(_encode(parts), digest_size=size).digest()


#: Items one body may hold (Tencent sends at most 100): a bound on the work one request can cause.
MAX_ITEMS = 10_000
#: Quarantined items kept as a row each per body; the rest are counted in one more row (the body
#: is in the inbox whole). Tencent sends at most 100 items, so none of its pushes is summarised.
MAX_REJECT_ROWS = 100


@dataclass(slots=True)
class Undecodable:
    """An element of a push that could not be decoded on its own (so it alone is quarantined)."""

    raw: str  # as received, made text (`preview`)
    reason: str


def _undecodable_reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"text is not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); JSON must be UTF-8"
    if isinstance(exc, RecursionError):
        return "nested too deeply to decode"
    if isinstance(exc, msgspec.ValidationError):  # msgspec's words for a number beyond what it decodes
        return f"cannot be decoded: {exc}"
    return str(exc)


_decode_elements = msgspec.json.Decoder(list[msgspec.Raw]).decode
_decode_members = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode


def decode_body(body: bytes) -> list[Any]:
    """The items of a push: a JSON array's elements, or a lone object as one item.

    Total over any bytes: an element that cannot be decoded on its own (invalid UTF-8, a number
    out of range, nesting too deep) comes back as `Undecodable`, to be quarantined alone while
    its neighbours are stored; BodyError (and nothing else) when the body as a whole is not a
    JSON array or object.
    """
    try:
        data = _decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        whole = exc
    else:
        if type(data) is list:
            return _refuse_repeated_keys(body, _bounded(data))
        if type(data) is dict:
            return _refuse_repeated_keys(body, [data])
        raise BodyError(
            results.BAD_SHAPE, f"body must be a JSON array of reports or one report object, got {_json_type(data)}"
        )
    try:  # the body failed as a whole: element by element, so one bad element fails alone
        elements = _decode_elements(body)
    except msgspec.ValidationError:  # not an array: a lone object holding the problem, or not JSON
        try:
            _decode_members(body)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            lenient = _decode_leniently(body)
            if lenient is None:
                raise BodyError(results.NOT_JSON, f"body is not valid JSON: {_undecodable_reason(whole)}") from None
            return lenient
        return [Undecodable(preview(body), _undecodable_reason(whole))]
    except msgspec.DecodeError as exc:
        lenient = _decode_leniently(body)
        if lenient is None:
            raise BodyError(results.NOT_JSON, f"body is not valid JSON: {exc}") from None
        return _refuse_repeated_keys(body, lenient)
    except RecursionError:
        raise BodyError(results.BAD_SHAPE, "body is nested too deeply to decode") from None
    except UnicodeDecodeError as exc:
        raise BodyError(results.NOT_JSON, f"body {_undecodable_reason(exc)}") from None
    items: list[Any] = []
    for element in _bounded(elements):
        try:
            items.append(_decode(element))
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            items.append(Undecodable(preview(bytes(element)), _undecodable_reason(exc)))
    return _refuse_repeated_keys(body, items)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _decode_leniently(body: bytes) -> list[Any] | None:
    """The elements of a body msgspec cannot split, read by Python's own decoder, or None when that
    cannot either (the body is not JSON).

    What this reads and msgspec does not: a lone surrogate escape (`"\\ud800"`), which RFC 8259
    leaves to the reader. Each element is then given to msgspec again, so that what msgspec
    refuses (that escape, bytes that are not UTF-8, a number out of range) is quarantined alone.
    """
    try:
        text = body.decode("utf-8", "surrogateescape")
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite, parse_int=_integer)
    except (ValueError, RecursionError):
        return None
    if type(data) is dict:
        data = [data]
    elif type(data) is not list:
        return None
    items: list[Any] = []
    for element in data:
        shown = json.dumps(element, default=str)  # ASCII, escapes spelled out: text a store can always keep
        try:
            items.append(_decode(json.dumps(element, ensure_ascii=False).encode()))
        except UnicodeEncodeError:
            items.append(Undecodable(shown, "text holds a lone surrogate escape or bytes that are not UTF-8"))
        except TypeError:  # a number no float holds, kept as its text by `_finite`
            items.append(Undecodable(shown, "a number is out of range"))
        except (msgspec.DecodeError, RecursionError) as exc:
            items.append(Undecodable(shown, _undecodable_reason(exc)))
    return _bounded(items)


class _Huge:
    """A number's text that no float holds (1e999): refused by json.dumps, so its element is quarantined."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def _integer(text: str) -> int | _Huge:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (4,300)
        return _Huge(text)


def _finite(text: str) -> float | _Huge:
    number = float(text)
    return number if math.isfinite(number) else _Huge(text)


def _bounded(items: list[Any]) -> list[Any]:
    if len(items) > MAX_ITEMS:
        raise BodyError(
            results.BAD_SHAPE,
            f"body holds {len(items)} items, more than the {MAX_ITEMS} one push may hold (Tencent sends at most 100)",
        )
    return items


_Key = Annotated[str, msgspec.Meta(max_length=storable.KEY_CHARS)]
_Required = Annotated[str, msgspec.Meta(min_length=1, max_length=storable.KEY_CHARS)]


class _CleanReport(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A report exactly as Tencent documents it, every field it always sends present: the common case,
    decoded and checked in C with no field loop (anything else takes the careful path)."""

    sid: _Required
    mobile: _Required
    report_status: Literal["SUCCESS", "FAIL"]
    nationcode: _Key | None
    errmsg: _Key | None
    description: str | None
    user_receive_time: str | None
    ext: str | None = None  # only present when Tencent has enabled it for the account


_decode_clean = msgspec.json.Decoder(list[_CleanReport] | _CleanReport).decode
#: the fields every clean report holds, quoted as they stand in the body
_ALWAYS = tuple(f'"{name}"'.encode() for name in REPORT_FIELDS if name != "ext")


def _report(
    sid: str,
    nationcode: str | None,
    mobile: str,
    status: str,
    errmsg: str | None,
    description: str | None,
    receive_time: str | None,
    ext: str | None,
    extra: str | None,
) -> tuple:
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


def _clean(body: bytes, items: list[_CleanReport]) -> bool:
    """Whether the fast path's reports hold no repeated key and no NUL, so they can be stored as decoded.

    A decoder keeps the last value of a repeated key in silence. A body exactly as long as its
    reports encoded again (compact, as Tencent sends them) cannot have held anything more.
    Otherwise (spaces, escapes): every clean report holds each field but `ext`, so each field's
    quoted name standing in the body exactly once per report proves none repeats (a value
    equal to a field's name sends the body to the careful path, which tells the two apart).
    """
    if b"\\u0000" in body:  # a NUL in a string takes the careful path, to be refused
        return False
    if len(_encode(items)) == len(body):
        return True
    n = len(items)
    for key in _ALWAYS:
        if body.count(key) != n:
            return False
    ext = body.count(b'"ext"')
    return not ext or ext == n - [r.ext for r in items].count(None)


def parse_reports(body: bytes) -> Decoded:
    """A status-report push → what to store and quarantine; BodyError when the body is unusable.

    Row order: sid, dedup_key, nationcode, mobile, report_status, errmsg, description,
    user_receive_time, ext, extra, phone, user_receive_ts.
    """
    try:
        clean = _decode_clean(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        clean = None  # numbers, extra fields, bad items, a wrong shape, bad bytes: the careful path below
    if clean is not None:
        items = clean if type(clean) is list else [clean]
        if _clean(body, items):
            return Decoded(
                [
                    _report(
                        r.sid,
                        r.nationcode,
                        r.mobile,
                        r.report_status,
                        r.errmsg,
                        r.description,
                        r.user_receive_time,
                        r.ext,
                        None,
                    )
                    for r in items
                ],
                [],
                0,
            )
    return _each(decode_body(body), report_row)


def parse_replies(body: bytes) -> Decoded:
    """A reply push (one object; an array is taken item by item) → what to store and quarantine."""
    return _each(decode_body(body), reply_row)


def _each(items: list[Any], parse: Callable[[Any], tuple]) -> Decoded:
    rows: list[tuple] = []
    rejects: list[Quarantined] = []
    rejected = 0
    for index, item in enumerate(items):
        try:
            if type(item) is Undecodable:
                raise ValueError(item.reason)
            rows.append(parse(item))
        except ValueError as exc:
            rejected += 1
            if rejected <= MAX_REJECT_ROWS:
                rejects.append(Quarantined(index, str(exc), raw_text(item)))
    if rejected > MAX_REJECT_ROWS:
        more = rejected - MAX_REJECT_ROWS
        rejects.append(
            Quarantined(
                None,
                f"{more} more item(s) quarantined; the first {MAX_REJECT_ROWS} are listed"
                " one by one and the whole body is in the inbox",
                "",
            )
        )
    return Decoded(rows, rejects, rejected)


#: above this many distinct keys, counting each in the body costs more than decoding it again
_COUNTED_KEYS = 32


class _Repeated(dict[str, Any]):
    """An object whose text named a key more than once (`repeated`)."""

    repeated: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    made = dict(pairs)
    if len(made) == len(pairs):
        return made
    flagged = _Repeated(made)
    flagged.repeated = sorted(k for k, times in Counter(k for k, _ in pairs).items() if times > 1)
    return flagged


def _refuse_repeated_keys(body: bytes, items: list[Any]) -> list[Any]:
    """`items`, with each object whose text repeats a key replaced by an Undecodable naming it.

    A decoder keeps the last value of a repeated key in silence, which would store a guess.
    Cheap test first: when every key's quoted name occurs in the body exactly as often as the
    objects hold it, nothing repeats; else the standard library's decoder, which sees the
    pairs, says which objects do.
    """
    held: Counter[str] = Counter()
    for item in items:
        if type(item) is dict:
            held.update(item.keys())
    if len(held) <= _COUNTED_KEYS and all(body.count(_encode(key)) == times for key, times in held.items()):
        return items
    try:
        again = json.loads(body, object_pairs_hook=_pairs)
    except (ValueError, RecursionError):  # what msgspec read, the standard library may not: keep msgspec's
        return items
    elements = again if type(again) is list else [again]
    for index, element in enumerate(elements):
        if type(element) is _Repeated:
            names = ", ".join(map(repr, element.repeated))
            items[index] = Undecodable(raw_text(items[index]), f"key {names} appears more than once in this object")
    return items


def report_row(item: Any) -> tuple:
    """One status report, checked field by field; raises ValueError with a reason a person can act on."""
    if type(item) is not dict:
        raise ValueError(f"report must be a JSON object, got {_json_type(item)}")
    sid = _text(item, "sid", key=True)
    mobile = _text(item, "mobile", key=True)
    status = _text(item, "report_status", key=True)
    missing = [n for n, v in (("sid", sid), ("mobile", mobile), ("report_status", status)) if not v]
    if missing:
        raise ValueError(f"missing required field(s): {', '.join(missing)}")
    if status not in REPORT_STATUSES:
        raise ValueError(f"report_status must be SUCCESS or FAIL, got {_shown(status)}")
    return _report(
        sid,  # type: ignore[arg-type]
        _text(item, "nationcode", key=True),
        mobile,  # type: ignore[arg-type]
        status,
        _text(item, "errmsg", key=True),
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
    mobile = _text(item, "mobile", key=True)
    if not mobile:
        raise ValueError("missing required field(s): mobile")
    extend = _text(item, "extend")
    nationcode = _text(item, "nationcode", key=True)
    sign = _text(item, "sign")
    text = _text(item, "text")
    raw_time = item.get("time")
    if raw_time is None or (type(raw_time) is int):
        when = raw_time
    elif (type(raw_time) is float and raw_time.is_integer()) or (
        type(raw_time) is str and raw_time.strip().isascii() and raw_time.strip().isdigit()
    ):
        when = int(raw_time)
    else:
        raise ValueError(f"field 'time' must be Unix seconds, got {_shown(raw_time)}")
    if when is not None and not storable.seconds(when):
        raise ValueError(f"field 'time' is outside the years 1-9999 as Unix seconds, got {_shown(raw_time)}")
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
    if type(item) is Undecodable:
        return item.raw
    return _encode(item).decode()


# The rows built here are bound by position to the store's columns (`store.columns`): checked once, at import, so
# a field added on one side only fails here rather than as a misplaced value at run time.
assert len(report_row({"sid": "s", "mobile": "m", "report_status": "FAIL"})) == len(REPORTS.written)
assert len(reply_row({"mobile": "m"})) == len(REPLIES.written)
