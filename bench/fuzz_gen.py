"""What `bench.fuzz` sends: valid Tencent pushes, and mutations of them, the same ones for the same seed.

Every request `i` of a run is a pure function of `(seed, i)` (`plan(seed, i, ...)`), so a
failure is replayed by its index alone, whatever the concurrency. Every valid item is a
pure function of `(seed, i, j)` and carries its identity in its `sid` (reports) or `text`
(replies) with a checksum, so the read-back check can find it again and regenerate what
it must look like without keeping the run's items in memory.

Kinds of request:

- `valid`: built unmutated by the valid generator (Tencent's documented format). Must be
  answered 200 result 0, and every item must then be readable.
- `repeat`: a valid push sent again byte for byte (Tencent's retry). Same as valid, and
  its items must still be stored exactly once.
- `neighbour`: a JSON array (grammatical JSON, RFC 8259) of valid items with one to three
  bad items among them (type swaps, numbers and dates at the edges, lone surrogates, NUL,
  duplicate keys, nesting up to 16 deep, ...). The bad items may be quarantined; the
  valid ones beside them must be stored and the answer must be 200 result 0 ("every item
  was committed or quarantined").
- `structural`: a grammatical JSON body that is not a plain push (bad items alone, lone
  values, deep nesting up to 5000, huge arrays of bad items).
- `bytes`: a valid body mutated byte by byte (flips, insertions, deletions, truncation,
  splices, foreign encodings, invalid UTF-8 inside strings, BOMs, oversize bodies).

For `structural` and `bytes` nothing is predicted beyond the contract every body gets (a
documented JSON answer, the body kept in the inbox as received, the store still readable).
"""

from __future__ import annotations

import calendar
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from json.encoder import encode_basestring, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

CALLBACK = "/sms/callback"
REPLY = "/sms/reply"


# -- a JSON writer that can say what json.dumps cannot -----------------------------------------


class Raw(str):
    """Literal JSON text put in as is (1e999, "\\ud800", [[[...]]])."""


class Dup(list):
    """An object as a list of (key, value) pairs: keys may repeat."""


def dump(value: Any, ascii_only: bool = False, comma: str = ",", colon: str = ":") -> str:
    """JSON text of `value`; Raw is copied, Dup keeps its repeated keys."""
    out: list[str] = []
    _dump(value, ascii_only, out, comma, colon)
    return "".join(out)


_STR = (encode_basestring, encode_basestring_ascii)  # json.dumps(s, ensure_ascii=a), without making an encoder


def _dump(v: Any, a: bool, out: list[str], comma: str = ",", colon: str = ":") -> None:
    t = type(v)
    if t is str:
        out.append(_STR[a](v))
    elif t is Raw:
        out.append(str(v))
    elif t is Valid and comma == "," and colon == ":":
        out.append(v.json(a))
    elif v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, (Raw, int)):
        out.append(str(v))
    elif isinstance(v, float):
        out.append(json.dumps(v))
    elif isinstance(v, str):
        out.append(_STR[a](v))
    elif isinstance(v, Dup):
        out.append("{")
        enc = _STR[a]
        for n, (k, x) in enumerate(v):
            if n:
                out.append(comma)
            out.append(enc(k))
            out.append(colon)
            _dump(x, a, out, comma, colon)
        out.append("}")
    elif isinstance(v, dict):
        _dump(Dup(v.items()), a, out, comma, colon)
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for n, x in enumerate(v):
            if n:
                out.append(comma)
            _dump(x, a, out, comma, colon)
        out.append("]")
    else:  # pragma: no cover - the generator only makes the types above
        raise TypeError(type(v))


def encode(value: Any, rng: random.Random) -> bytes:
    """UTF-8 JSON, sometimes with non-ASCII escaped, sometimes with whitespace between tokens."""
    ascii_only = rng.random() < 0.3
    if rng.random() < 0.05:  # whitespace between tokens, as any JSON writer may put
        comma, colon = rng.choice([", ", ",\n", ",\r\n\t"]), rng.choice([": ", " :", ":\t"])
        text = dump(value, ascii_only, comma, colon)
        text = rng.choice(["", " ", "\n", "\r\n"]) + text + rng.choice(["", "\n", " \t"])
    else:
        text = dump(value, ascii_only)
    return text.encode("utf-8")


# -- valid items ----------------------------------------------------------------------------


def _checksum(seed: int, i: int, j: int) -> str:
    return hashlib.blake2b(f"{seed}/{i}/{j}".encode(), digest_size=3).hexdigest()


def prefix(seed: int) -> str:
    return f"fz{seed}"


def marker(seed: int, i: int, j: int) -> str:
    """The identity a valid item carries: `fz<seed>:<i>-<j>-<checksum>`."""
    return f"{prefix(seed)}:{i}-{j}-{_checksum(seed, i, j)}"


def marker_pattern(seed: int) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(prefix(seed))}:(\d+)-(\d+)-([0-9a-f]{{6}})")


def parse_marker(seed: int, pattern: re.Pattern[str], text: Any, search: bool = False) -> tuple[int, int] | None:
    """(i, j) when `text` carries a valid item's identity with a right checksum, else None."""
    if type(text) is not str:
        return None
    m = pattern.search(text) if search else pattern.fullmatch(text)
    if m is None:
        return None
    i, j = int(m.group(1)), int(m.group(2))
    return (i, j) if m.group(3) == _checksum(seed, i, j) else None


# A valid item is drawn from one hash of (seed, i, j), not from a Random seeded with a string (which
# costs more than the rest of the item): it is made twice per item per run, sent and checked.
_COUNTRIES = [  # nationcode, weight (of 100), national number from a 12-digit draw x
    ("86", 80, lambda x: "1" + "3456789"[x % 7] + f"{x // 7 % 10**9:09d}"),
    ("852", 4, lambda x: "5679"[x % 4] + f"{x // 4 % 10**7:07d}"),
    ("1", 4, lambda x: "2345678"[x % 7] + f"{x // 7 % 10**9:09d}"),
    ("44", 4, lambda x: "7" + f"{x % 10**9:09d}"),
    ("65", 4, lambda x: "89"[x % 2] + f"{x // 2 % 10**7:07d}"),
    ("62", 4, lambda x: "81" + f"{x % 10**9:09d}"),
]
_COUNTRY_BY_PERCENT = [c for c in _COUNTRIES for _ in range(c[1])]
_FAILURES = [
    ("UNDELIV", "用户手机号码状态异常（空号、停机、关机）"),
    ("MK:0001", "空号"),
    ("EXPIRED", "短信有效期内未送达"),
    ("REJECTD", "运营商拒绝下发"),
    ("MK:0024", "手机关机"),
    ("DB:0141", "号码在运营商黑名单中"),
    ("1", "空号"),
    ("NOROUTE", "路由失败"),
    ("UNKNOWN", "未知错误"),
    ("W-BLACK", "全局黑名单号码"),
    ("SUBFAIL", "The carrier rejected it"),
    ("XX:9999", "a code nobody documented"),
]
_DELIVERED = ["用户短信接收成功", "The SMS message is successfully delivered"]
_EXTS = ["", "order-42", '{"user":1}', "会话上下文"]
_BASE = datetime(2026, 11, 24, 10, 0, 0)
_BASE_TS = calendar.timegm(_BASE.timetuple())  # the base as if UTC: `time` and user_receive_time agree
_SPAN = 6 * 86400  # items fall within three days either side of the base
_DAYS = {
    d: (_BASE + timedelta(days=d - _BASE_TS // 86400)).strftime("%Y-%m-%d")
    for d in range((_BASE_TS - _SPAN // 2) // 86400, (_BASE_TS + _SPAN // 2) // 86400 + 1)
}


def _draw(tag: bytes, seed: int, i: int, j: int) -> int:
    """192 random bits that depend on (tag, seed, i, j) only."""
    return int.from_bytes(hashlib.blake2b(f"{seed}/{i}/{j}".encode(), digest_size=24, person=tag).digest(), "little")


def _phone(h: int) -> tuple[tuple[str, str], int]:
    code, _, make = _COUNTRY_BY_PERCENT[h % 100]
    h //= 100
    return (code, make(h % 10**12)), h // 10**12


def _when(h: int) -> tuple[int, str, int]:
    """(Unix seconds, 'YYYY-MM-DD HH:MM:SS', rest of h): a moment within three days of the base."""
    t = _BASE_TS - _SPAN // 2 + h % _SPAN
    d, s = divmod(t, 86400)
    return t, f"{_DAYS[d]} {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}", h // _SPAN


_ENCODED: dict[tuple[str, bool], str] = {}


def _enc(text: str, a: bool) -> str:
    """JSON text of one of the few constant strings of valid items (cached)."""
    try:
        return _ENCODED[(text, a)]
    except KeyError:
        return _ENCODED.setdefault((text, a), _STR[a](text))


class Valid(dict):
    """A valid item as the valid generator made it; knows its own compact JSON text (the hot path)."""

    __slots__ = ()

    def json(self, a: bool) -> str:
        if "sid" in self:
            text = (
                f'{{"user_receive_time":"{self["user_receive_time"]}","nationcode":"{self["nationcode"]}",'
                f'"mobile":"{self["mobile"]}","report_status":"{self["report_status"]}",'
                f'"errmsg":{_enc(self["errmsg"], a)},"description":{_enc(self["description"], a)},'
                f'"sid":"{self["sid"]}"'
            )
            return text + (f',"ext":{_enc(self["ext"], a)}}}' if "ext" in self else "}")
        return (
            f'{{"extend":"{self["extend"]}","mobile":"{self["mobile"]}","nationcode":"{self["nationcode"]}",'
            f'"sign":{_enc(self["sign"], a)},"text":{_STR[a](self["text"])},"time":{self["time"]}}}'
        )


def valid_report(seed: int, i: int, j: int) -> Valid:
    """Report j of request i, exactly as Tencent documents it (all strings; `ext` sometimes)."""
    h = _draw(b"report", seed, i, j)
    (nationcode, mobile), h = _phone(h)
    _, when, h = _when(h)
    if h % 5:
        status, errmsg, description = "SUCCESS", "DELIVRD", _DELIVERED[h // 5 % 2]
    else:
        status = "FAIL"
        errmsg, description = _FAILURES[h // 5 % len(_FAILURES)]
    h //= 5 * 2 * len(_FAILURES)
    item = Valid(
        user_receive_time=when,
        nationcode=nationcode,
        mobile=mobile,
        report_status=status,
        errmsg=errmsg,
        description=description,
        sid=marker(seed, i, j),
    )
    if h % 5 == 0:
        item["ext"] = _EXTS[h // 5 % len(_EXTS)]
    return item


def valid_reply(seed: int, i: int, j: int) -> Valid:
    """Reply j of request i, as Tencent documents it (`time` in Unix seconds)."""
    h = _draw(b"reply", seed, i, j)
    (nationcode, mobile), h = _phone(h)
    t, _, h = _when(h)
    return Valid(
        extend=("", "01", "12345")[h % 3],
        mobile=mobile,
        nationcode=nationcode,
        sign=("腾讯云", "Acme")[h // 3 % 2],
        text=f"{marker(seed, i, j)} {('TD', '退订', 'yes', '好的，收到')[h // 6 % 4]}",
        time=t,
    )


def expected_report(item: dict[str, Any]) -> tuple:
    """What /v1/reports must show for a valid report (Tencent's fields, as sent)."""
    return tuple(
        item.get(k)
        for k in ("sid", "nationcode", "mobile", "report_status", "errmsg", "description", "user_receive_time", "ext")
    )


def stored_report(row: dict[str, Any]) -> tuple:
    return tuple(
        row.get(k)
        for k in ("sid", "nationcode", "mobile", "report_status", "errmsg", "description", "user_receive_time", "ext")
    )


def expected_reply(item: dict[str, Any]) -> tuple:
    return tuple(item.get(k) for k in ("extend", "mobile", "nationcode", "sign", "text", "time"))


def _item_count(r: random.Random) -> int:
    """Items in a valid push, distributed like Tencent's pushes: up to 100, mostly one or a few.

    Empty arrays and pushes of 101-500 (beyond what Tencent sends, still accepted) stay in, rarely.
    Mean about 6 items.
    """
    x = r.random()
    if x < 0.01:
        return 0
    if x < 0.55:
        return 1
    if x < 0.85:
        return r.randint(2, 10)
    if x < 0.997:
        return int(11 * (101 / 11) ** r.random())  # 11-100, log-uniform: the smaller the likelier
    return r.randint(101, 500)


# -- bad values -----------------------------------------------------------------------------

REPORT_KEYS = ("sid", "nationcode", "mobile", "report_status", "errmsg", "description", "user_receive_time", "ext")
REPLY_KEYS = ("extend", "mobile", "nationcode", "sign", "text", "time")

EDGE_NUMBERS = [
    "0",
    "-0",
    "-0.0",
    "0.0",
    "1",
    "-1",
    "86",
    "1.5",
    "1E+2",
    "1e2",
    "0.1e1",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999",
    "1e308",
    "1.7976931348623157e308",
    "1e309",
    "1e999",
    "-1e999",
    "1e-400",
    "5e-324",
    "-5e-324",
    "253402300800",
    "253402300799",
    "-62135596800",
    "-62135596801",
    "4102444800",
    "1700000000.5",
    "1e15",
    "1e16",
    "1e19",
]

EDGE_DATES = [
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "2026-02-30 10:00:00",
    "2026-02-29 10:00:00",
    "2024-02-29 23:59:60",
    "2026-11-24 24:00:00",
    "0000-00-00 00:00:00",
    "1970-01-01 00:00:00",
    "1969-12-31 23:59:59",
    "2038-01-19 03:14:08",
    "2106-02-07 06:28:16",
    "10000-01-01 00:00:00",
    "2026-11-24T10:00:00+14:00",
    "2026-11-24T10:00:00-12:00",
    "2026-11-24 10:00:00+23:59",
    "2026-11-24 10:00:00-23:59",
    "2026-11-24 10:00:00+05:45",
    "2026-11-24T10:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01 00:00:00+00:01",
    "9999-12-31 23:59:59-00:01",
    "2026-11-24 10:00:00.999999",
    "2026-11-24 10:00:00.123456789",
    "2026-11-24",
    "2026-W48-2",
    "20261124T100000",
    "2026-11-24 10:00",
    "2026-1-2 3:4:5",
    " 2026-11-24 10:00:00",
    "2026-11-24 10:00:00 ",
    "2026-11-24\t10:00:00",
    "２０２６-11-24 10:00:00",
    "2026-11-24 10:00:00+0800",
    "2026-11-24 10:00:00 UTC",
    "",
    "now",
    "-0001-01-01 00:00:00",
]

EDGE_STRINGS: list[Any] = [
    "",
    " ",
    "\u0000",
    "a\u0000b",
    Raw('"\\ud800"'),
    Raw('"\\udfff"'),
    Raw('"\\ud800\\u0041"'),
    Raw('"\\udc00\\ud800"'),
    Raw('"x\\ud83d"'),
    "\U0001f600",
    "\u2028\u2029",
    "\ufeff",
    "\uffff",
    "\ufffe",
    "\U0010ffff",
    "\x01\x1f\x7f",
    "'; DROP TABLE reports; --",
    "%s%n%x",
    "../..",
    ".",
    "..",
    "a/b?c#d%2F%00",
    "\\",
    "\u202etxet",
    "e\u0301" * 50,
    "测试",
    "SUCCESS",
    "FAIL",
    "success",
    "SUCCESS ",
    "null",
    "1e999",
    "+8613800138000",
    "０１２３",
    "٠١٢٣٤",
    "86 ",
    "x" * 5000,
    "\t\n\r",
]


def big_string(r: random.Random, limit: int) -> str:
    n = r.choice([256, 4096, 65536, max(1, limit // 4), max(1, limit // 2)])
    return r.choice(["x", "测", "😀", "\\", '"', "é"]) * max(1, n // 4)


def nested(r: random.Random, depth: int) -> Raw:
    shape = r.randrange(4)
    if shape == 0:
        return Raw("[" * depth + "]" * depth)
    if shape == 1:
        return Raw('{"a":' * depth + "null" + "}" * depth)
    if shape == 2:
        return Raw('[{"k":' * max(1, depth // 2) + "1" + "}]" * max(1, depth // 2))
    return Raw("[" * depth + '"deep"' + "]" * depth)


def any_value(r: random.Random, limit: int, max_depth: int) -> Any:
    """A value of any JSON type, edges favoured."""
    k = r.randrange(12)
    if k == 0:
        return None
    if k == 1:
        return r.random() < 0.5
    if k in (2, 3):
        return Raw(r.choice(EDGE_NUMBERS)) if r.random() < 0.7 else Raw("1" * r.randint(20, 5000))
    if k == 4:
        return r.choice(EDGE_STRINGS)
    if k == 5:
        return r.choice(EDGE_DATES)
    if k == 6:
        return (
            big_string(r, limit)
            if r.random() < 0.2
            else "".join(chr(r.randrange(32, 0x3000)) for _ in range(r.randint(0, 30)))
        )
    if k == 7:
        return [any_value(r, limit, 1) for _ in range(r.randint(0, 4))] if max_depth > 1 else []
    if k == 8:
        return {r.choice(["a", "", "sid", "\u0000", "😀", "x" * 300]): any_value(r, limit, 1)} if max_depth > 1 else {}
    if k == 9:
        return nested(r, r.randint(1, max_depth))
    if k == 10:
        return r.randint(-(2**70), 2**70)
    return r.uniform(-1e300, 1e300)


def bad_item(r: random.Random, base: dict[str, Any], keys: tuple[str, ...], limit: int, max_depth: int) -> Any:
    """`base` with one to three things wrong; sometimes not an object at all."""
    if r.random() < 0.08:
        return any_value(r, limit, max_depth)
    item: dict[str, Any] = dict(base)
    changes = []
    for _ in range(r.randint(1, 3)):
        op = r.randrange(9)
        name = r.choice(keys)
        if op <= 2:
            item[name] = any_value(r, limit, max_depth)
            changes.append(f"{name}=any")
        elif op == 3:
            item.pop(name, None)
            changes.append(f"-{name}")
        elif op == 4:
            date_field = "time" if "time" in keys else "user_receive_time"
            if date_field == "time" and r.random() < 0.7:
                item["time"] = Raw(r.choice(EDGE_NUMBERS)) if r.random() < 0.6 else r.choice(EDGE_NUMBERS)
            else:
                item[date_field] = r.choice(EDGE_DATES)
            changes.append(f"{date_field}=edge")
        elif op == 5:
            item[name] = r.choice(EDGE_STRINGS)
            changes.append(f"{name}=str")
        elif op == 6:
            item[r.choice(["extra", "", "ext2", "\u0000k", "😀", "sid ", "SID"])] = any_value(r, limit, max_depth)
            changes.append("+field")
        elif op == 7:
            item[name] = Raw(r.choice(EDGE_NUMBERS))
            changes.append(f"{name}=num")
        else:
            pairs = list(item.items())
            pairs.insert(r.randint(0, len(pairs)), (name, any_value(r, limit, max_depth)))
            item = Dup(pairs)  # type: ignore[assignment]
            changes.append(f"dup:{name}")
            break
    return item


# -- byte mutations -------------------------------------------------------------------------

INTERESTING_BYTES = [
    b"\x00",
    b"\xff",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\xc3\x28",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xc0\xaf",
    b"\xe0\x80\xaf",
    b"\xf8\x88\x80\x80\x80",
    b"\x80",
    b"\xbf",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\\u0000",
    b'"',
    b"{",
    b"[",
    b"}",
    b"]",
    b",",
    b":",
    b"null",
    b"1e999",
    b"\x01",
    b"\x7f",
    "测试".encode("gbk"),
    "é".encode("latin-1"),
    "短信".encode("utf-16-le"),
    b"\r\n",
    b"\xa0",
    "\u3000".encode(),
]

_STRING_VALUE = re.compile(rb'(?<=:)\s*"((?:[^"\\]|\\.)*)"')


def mutate_bytes(r: random.Random, body: bytes, limit: int) -> tuple[bytes, str]:
    """One to four byte-level changes of `body`, or one whole-body re-encoding."""
    x = r.random()
    if x < 0.12:
        return _reencode(r, body)
    if x < 0.25:
        return _inside_string(r, body)
    b = bytearray(body)
    done = []
    for _ in range(r.randint(1, 4)):
        op = r.randrange(7)
        p = r.randint(0, len(b))
        if op == 0 and b:
            p = min(p, len(b) - 1)
            b[p] ^= 1 << r.randrange(8)
            done.append(f"flip@{p}")
        elif op == 1 and b:
            p = min(p, len(b) - 1)
            b[p] = r.randrange(256)
            done.append(f"set@{p}")
        elif op == 2:
            ins = (
                r.choice(INTERESTING_BYTES)
                if r.random() < 0.7
                else bytes(r.randrange(256) for _ in range(r.randint(1, 8)))
            )
            b[p:p] = ins
            done.append(f"insert{ins[:8]!r}@{p}")
        elif op == 3 and b:
            n = r.choice([1, 1, 2, r.randint(1, max(1, len(b) // 4))])
            del b[p : p + n]
            done.append(f"delete{n}@{p}")
        elif op == 4:
            del b[p:]
            done.append(f"truncate@{p}")
        elif op == 5 and b:
            n = r.randint(1, min(64, len(b)))
            q = r.randrange(len(b))
            b[p:p] = b[q : q + n]
            done.append(f"splice{n}@{p}")
        else:
            b.extend(r.choice([b" ", b"x", b"]", b"}", b",", b"\x00", b"[]", b"\n"]))
            done.append("append")
        if len(b) > 4 * limit:
            break
    return bytes(b), "bytes:" + ",".join(done)


def _reencode(r: random.Random, body: bytes) -> tuple[bytes, str]:
    text = body.decode("utf-8", "replace")
    how = r.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "bom", "gbk", "gb18030", "latin-1", "big5", "cesu"])
    if how == "bom":
        return b"\xef\xbb\xbf" + body, "encoding:utf-8-bom"
    if how == "cesu":  # a non-BMP character as a surrogate pair in UTF-8 (CESU-8: invalid UTF-8), in a string
        at = body.find(b'":"')
        if at < 0:
            return body + b"\xed\xa0\xbd\xed\xb8\x80", "encoding:cesu-8"
        return body[: at + 3] + b"\xed\xa0\xbd\xed\xb8\x80" + body[at + 3 :], "encoding:cesu-8"
    return text.encode(how, "replace"), f"encoding:{how}"


def _inside_string(r: random.Random, body: bytes) -> tuple[bytes, str]:
    """Foreign or invalid bytes inside one string value (the JSON around it stays as it was)."""
    spans = [m.span(1) for m in _STRING_VALUE.finditer(body[:200_000])]
    if not spans:
        return body + b"\xff", "string:none-found,appended-ff"
    start, end = r.choice(spans)
    value = body[start:end]
    how = r.randrange(5)
    if how == 0:
        new = value.decode("utf-8", "replace").encode(r.choice(["gbk", "gb18030", "big5"]), "replace") + "测试".encode(
            "gbk"
        )
        what = "gbk"
    elif how == 1:
        new = value.decode("utf-8", "replace").encode("latin-1", "replace") + "é".encode("latin-1")
        what = "latin-1"
    elif how == 2:
        new = value.decode("utf-8", "replace").encode("utf-16-le", "replace")
        what = "utf-16"
    elif how == 3:
        seq = r.choice([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\x80"])
        at = r.randint(0, len(value))
        new = value[:at] + seq + value[at:]
        what = f"invalid-utf8{seq!r}"
    else:
        seq = r.choice([b"\x00", b"\x01", b"\x1f", b"\n", b"\t"])
        new = value + seq
        what = f"raw-control{seq!r}"
    return body[:start] + new + body[end:], f"string:{what}"


# -- one request ----------------------------------------------------------------------------


@dataclass(slots=True)
class Request:
    """One request of a run: where it goes, what it is, and what must come of it."""

    index: int
    path: str
    kind: str  # valid | repeat | neighbour | structural | bytes
    how: str  # the mutation, in words (for the failure list)
    body: bytes
    origin: int  # the request whose valid items this one carries (itself, or the one repeated)
    items: int = 0  # how many item slots (j) the origin's body has
    bad: tuple[int, ...] = ()  # item slots that are not valid items (neighbour pushes)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def expects_items(self) -> bool:
        return self.kind in ("valid", "repeat", "neighbour")


def _valid_push(seed: int, i: int, path: str, r: random.Random) -> tuple[Any, int]:
    if path == REPLY:
        return valid_reply(seed, i, 0), 1
    n = _item_count(r)
    if n == 1 and r.random() < 0.25:
        return valid_report(seed, i, 0), 1  # a lone object
    return [valid_report(seed, i, j) for j in range(n)], n


def _kind(r: random.Random) -> str:
    x = r.random()
    if x < 0.30:
        return "valid"
    if x < 0.33:
        return "repeat"
    if x < 0.50:
        return "neighbour"
    if x < 0.67:
        return "structural"
    return "bytes"


def plan(seed: int, i: int, limit: int) -> Request:
    """Request `i` of the run with `seed`; `limit` is the server's --max-body-bytes."""
    r = random.Random(f"q/{seed}/{i}")
    path = REPLY if r.random() < 0.2 else CALLBACK
    kind = _kind(r)
    if kind == "repeat":
        kind = "valid"
        for _ in range(20):  # the push of an earlier valid request, sent again byte for byte
            if i == 0:
                break
            k = r.randrange(max(0, i - 500), i)
            earlier = random.Random(f"q/{seed}/{k}")
            earlier.random()
            if _kind(earlier) == "valid":
                first = plan(seed, k, limit)
                return Request(i, first.path, "repeat", f"repeat of {k}", first.body, k, first.items)
    if kind == "valid":
        value, n = _valid_push(seed, i, path, r)
        return Request(i, path, "valid", "valid", encode(value, r), i, n)
    if kind == "neighbour":
        return _neighbour(seed, i, path, r, limit)
    if kind == "structural":
        body, how = _structural(seed, i, path, r, limit)
        return Request(i, path, "structural", how, body, i)
    value, _ = _valid_push(seed, i, path, r)
    x = r.random()
    if x < 0.01:
        return _oversize(seed, i, path, r, limit)
    if x < 0.12:
        return Request(i, path, "bytes", "bytes:whole", r.choice(_WHOLE_BODIES)(r), i)
    body, how = mutate_bytes(r, encode(value, r), limit)
    return Request(i, path, "bytes", how, body, i)


def _neighbour(seed: int, i: int, path: str, r: random.Random, limit: int) -> Request:
    if path == REPLY:
        n = r.randint(2, 6)
        keys, make = REPLY_KEYS, valid_reply
    else:
        n = r.choices((2, 3, 5, 10, 50, 100), (30, 25, 20, 15, 7, 3))[0]  # mean about 10, as valid pushes
        keys, make = REPORT_KEYS, valid_report
    bad = tuple(sorted(r.sample(range(n), min(n - 1, r.randint(1, 3)))))
    items: list[Any] = []
    hows = []
    for j in range(n):
        item = make(seed, i, j)
        if j in bad:
            base = dict(item)
            if "sid" in base:
                base["sid"] = f"{prefix(seed)}w:{i}-{j}"
            else:
                base["text"] = f"{prefix(seed)}w:{i}-{j}"
            item = bad_item(r, base, keys, limit // (4 * n), max_depth=16)
            hows.append(_describe(item, base))
        items.append(item)
    body = encode(items, r)
    return Request(i, path, "neighbour", "neighbour:" + ";".join(hows), body, i, n, bad)


def _describe(item: Any, base: dict[str, Any]) -> str:
    if not isinstance(item, dict):
        return f"item={dump(item)[:60]}"
    parts = []
    keys = [k for k, _ in item] if isinstance(item, Dup) else list(item)
    values = dict(item) if isinstance(item, Dup) else item
    if isinstance(item, Dup) and len(set(keys)) < len(keys):
        parts.append("dup-keys")
    for k in keys:
        if k not in base or values[k] is not base[k]:
            parts.append(f"{k}={dump(values[k])[:60]}")
    parts += [f"-{k}" for k in base if k not in values]
    return ",".join(dict.fromkeys(parts)) or "unchanged"


def _structural(seed: int, i: int, path: str, r: random.Random, limit: int) -> tuple[bytes, str]:
    keys = REPLY_KEYS if path == REPLY else REPORT_KEYS
    make = valid_reply if path == REPLY else valid_report
    x = r.randrange(7)
    if x == 0:  # one bad item, alone
        base = dict(make(seed, i, 0))
        base["sid" if "sid" in base else "text"] = f"{prefix(seed)}w:{i}-0"
        item = bad_item(r, base, keys, limit // 4, max_depth=r.choice([16, 100, 1000, 5000]))
        return encode(item if r.random() < 0.5 else [item], r), "structural:one:" + _describe(item, base)
    if x == 1:  # many bad items
        n = r.choices((0, 1, 10, 100, 500), (3, 3, 3, 2, 1))[0]
        items = []
        for j in range(n):
            base = dict(make(seed, i, j))
            base["sid" if "sid" in base else "text"] = f"{prefix(seed)}w:{i}-{j}"
            items.append(bad_item(r, base, keys, limit // (4 * max(n, 1)), max_depth=8))
        return encode(items, r), f"structural:many({n})"
    if x == 2:  # deep nesting, the whole body or one field
        depth = r.choice([1, 2, 16, 64, 100, 128, 256, 500, 999, 1000, 1001, 1024, 2048, 4096, 5000])
        if r.random() < 0.5:
            return nested(r, depth).encode(), f"structural:nested({depth})"
        base = dict(make(seed, i, 0))
        base["sid" if "sid" in base else "text"] = f"{prefix(seed)}w:{i}-0"
        base[r.choice((*keys, "extra"))] = nested(r, depth)
        return encode([base], r), f"structural:nested-field({depth})"
    if x == 3:  # a lone value of the wrong type
        value = any_value(r, limit, 4)
        return encode(value, r), f"structural:lone:{dump(value)[:60]}"
    if x == 4:  # numbers and dates at the edges, in the documented places
        base = dict(make(seed, i, 0))
        base["sid" if "sid" in base else "text"] = f"{prefix(seed)}w:{i}-0"
        if path == REPLY:
            base["time"] = Raw(r.choice(EDGE_NUMBERS)) if r.random() < 0.8 else r.choice(EDGE_NUMBERS)
            return encode(base, r), f"structural:time={dump(base['time'])}"
        base["user_receive_time"] = r.choice(EDGE_DATES)
        return encode([base], r), f"structural:user_receive_time={base['user_receive_time']!r}"
    if x == 5:  # duplicate keys at the top of an item
        base = dict(make(seed, i, 0))
        base["sid" if "sid" in base else "text"] = f"{prefix(seed)}w:{i}-0"
        name = r.choice(keys)
        pairs = [*list(base.items()), (name, any_value(r, limit // 4, 4))]
        return encode([Dup(pairs)] if path == CALLBACK else Dup(pairs), r), f"structural:dup:{name}"
    # an array of arrays, objects in objects: shapes that are not pushes
    value = r.choice([[[]], [[make(seed, i, 0)]], {"reports": [make(seed, i, 0)]}, [None], [1, 2], [[], {}], {}])
    if isinstance(value, dict) and "reports" in value:
        value["reports"][0] = dict(
            value["reports"][0], **{"sid" if path == CALLBACK else "text": f"{prefix(seed)}w:{i}-0"}
        )
    elif (
        isinstance(value, list) and value and isinstance(value[0], list) and value[0] and isinstance(value[0][0], dict)
    ):
        value[0][0] = dict(value[0][0], **{"sid" if path == CALLBACK else "text": f"{prefix(seed)}w:{i}-0"})
    return encode(value, r), f"structural:shape:{dump(value)[:40]}"


_WHOLE_BODIES = [
    lambda r: b"",
    lambda r: b" \n\t",
    lambda r: b"\x00",
    lambda r: b"\xef\xbb\xbf[]",
    lambda r: b"\xff\xfe[\x00]\x00",
    lambda r: r.choice(
        [
            b"null",
            b"true",
            b"false",
            b"0",
            b"-0",
            b'""',
            b"1e999",
            b"[]",
            b"{}",
            b"[{}]",
            b"[[]]",
            b"[null]",
            b"[1,2]",
            b'{"a":1}',
            b"[] []",
            b"[],",
            b"[",
            b"]",
            b"{",
            b'"',
            b"\\",
            b"NaN",
            b"[NaN]",
            b"[Infinity]",
            b"[-Infinity]",
            b"[1,]",
            b"[,1]",
            b"{'a':1}",
            b'["\\x41"]',
            b"/*c*/[]",
            b"[]//c",
            b"\x1e[]",
            b'["\\u0000"]',
            b'["\\ud800"]',
            b"[0x10]",
            b"[01]",
            b"[.5]",
            b"[1.]",
            b"[+1]",
            b"[1e]",
            b"[--1]",
        ]
    ),
    lambda r: bytes(r.randrange(256) for _ in range(r.randint(1, 300))),
    lambda r: b"[" * r.randint(1, 5000),
    lambda r: b"{" * r.randint(1, 5000),
    lambda r: b'{"a":' * r.randint(1, 5000),
]


def _oversize(seed: int, i: int, path: str, r: random.Random, limit: int) -> Request:
    """A valid-looking push just over --max-body-bytes (or exactly at it): must be 413 over, not under."""
    item = dict(valid_reply(seed, i, 0) if path == REPLY else valid_report(seed, i, 0))
    item["sign" if path == REPLY else "description"] = ""
    head = dump([item] if path == CALLBACK else item).encode()
    over = r.choice([0, 1, 1, r.randint(2, 4096)])
    pad = max(0, limit + over - len(head))
    target = "sign" if path == REPLY else "description"
    item[target] = "x" * pad
    body = dump([item] if path == CALLBACK else item).encode()
    return Request(i, path, "bytes", f"size:{len(body) - limit:+d} vs limit", body, i)
