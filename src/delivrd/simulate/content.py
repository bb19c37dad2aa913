"""Realistic status reports, the same ones for the same seed.

A receiver is only tested as well as its input: so the reports look like Tencent's
(mostly mainland numbers, SerialNo-shaped sids, real receipt codes, Beijing-time
timestamps) and come from one seeded generator, so a failing run can be replayed
report for report with `--seed` and `--start`.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import msgspec

from delivrd.domain.clock import UTC8
from delivrd.providers.tencent.decode import REPORT_FIELDS

#: `user_receive_time`'s shape, read by Tencent as Beijing time.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: seconds before `start` within which each report reached its handset
RECEIVED_WITHIN = 30

#: The sample from the spec, byte for byte the fields Tencent documents.
SEED_SAMPLE: dict[str, str] = {
    "user_receive_time": "2015-10-17 08:03:04",
    "nationcode": "86",
    "mobile": "13xxxxxxxxx",
    "report_status": "SUCCESS",
    "errmsg": "DELIVRD",
    "description": "The SMS message is successfully delivered",
    "sid": "xxxxxxx",
}

_MAINLAND_PREFIXES = [
    *map(str, range(130, 140)),
    "145",
    "147",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "178",
    *map(str, range(180, 190)),
    "191",
    "193",
    "195",
    "198",
    "199",
]

#: nationcode → (weight, national-number patterns). In a pattern `X` is any digit and
#: `N` is 2–9; other characters are literal. Mostly mainland China, as most traffic is.
COUNTRIES: dict[str, tuple[int, list[str]]] = {
    "86": (85, [p + "XXXXXXXX" for p in _MAINLAND_PREFIXES]),
    "852": (3, ["61XXXXXX", "64XXXXXX", "94XXXXXX", "97XXXXXX"]),
    "1": (3, [area + "NXXXXXX" for area in ("212", "213", "312", "415", "617", "646", "702", "917")]),
    "62": (2, ["812XXXXXXXX", "813XXXXXXXX", "857XXXXXXXX", "878XXXXXXXX"]),
    "91": (2, ["98XXXXXXXX", "99XXXXXXXX", "70XXXXXXXX", "94XXXXXXXX"]),
    "44": (2, ["74XXXXXXXX", "75XXXXXXXX", "77NXXXXXXX", "78XXXXXXXX", "79NXXXXXXX"]),
    "65": (1, ["81XXXXXX", "87XXXXXX", "91XXXXXX", "96XXXXXX"]),
    "81": (1, ["90NXXXXXXX", "80NXXXXXXX", "70NXXXXXXX"]),
    "63": (1, ["917XXXXXXX", "918XXXXXXX", "927XXXXXXX"]),
}

#: Failure receipt codes from the spec (section 3), with weights: mainland carriers' codes.
MAINLAND_FAILURES: list[tuple[str, int, str]] = [
    ("UNDELIV", 20, "用户手机号码状态异常（空号、停机、关机）"),
    ("MK:0001", 10, "空号"),
    ("EXPIRED", 10, "短信有效期内未送达"),
    ("MN:0001", 8, "用户手机状态异常"),
    ("REJECTD", 6, "运营商拒绝下发"),
    ("MK:0024", 6, "手机关机"),
    ("MK:0017", 4, "手机存储空间已满"),
    ("MX:0003", 4, "单个号码日发送条数超过限制"),
    ("DB:0141", 3, "号码在运营商黑名单中"),
    ("UNDELIV_601", 3, "用户状态异常"),
    ("1", 3, "空号"),
    ("4", 3, "手机关机"),
    ("TD:0004", 2, "疑似诈骗短信"),
    ("MX:0012", 2, "号码已退订"),
    ("NOROUTE", 2, "路由失败"),
    ("UNKNOWN", 2, "未知错误"),
    ("W-BLACK", 1, "全局黑名单号码"),
    ("REJECTD_706", 1, "运营商拒绝"),
    ("TC:0007", 1, "内容含敏感词"),
]

#: Global SMS statuses (tencentcloud.com/document/product/382/35462) for other countries.
GLOBAL_FAILURES: list[tuple[str, int, str]] = [
    ("UNDELIV", 30, "The SMS message could not be delivered"),
    ("EXPIRED", 15, "The SMS message expired before delivery"),
    ("REJECTD", 15, "The SMS message was rejected by the carrier"),
    ("SUBFAIL", 10, "The carrier rejected the submission, e.g. bad number format"),
    ("UNKNOWN", 10, "Unknown error"),
    ("COMFAIL", 10, "Carrier connection problem"),
    ("WTNFAIL", 5, "Carrier network jitter"),
    ("DELETED", 5, "The SMS message was deleted"),
]

_SUCCESS_DESCRIPTION = {"86": "用户短信接收成功"}
_SUCCESS_DESCRIPTION_GLOBAL = "The SMS message is successfully delivered"


def _table(pairs: list[tuple[Any, int]]) -> tuple[list[Any], list[int]]:
    """Values and cumulative weights, for `random.choices`."""
    values, total, cumulative = [], 0, []
    for value, weight in pairs:
        total += weight
        values.append(value)
        cumulative.append(total)
    return values, cumulative


class Reports:
    """A deterministic stream of status reports: `take(n)` returns the next n.

    The same `seed`, `start` and ratios give the same reports in the same order.
    `start` is the latest moment a report reached its handset: each reached it up to
    `RECEIVED_WITHIN` seconds before, in no order (carriers report late and out of
    order). Never after `start`, so that with `start` now, no report claims a handset
    received it later than the push that carries it; and never from the wall clock,
    so that a seed and a start replay the same reports.
    """

    def __init__(self, seed: int, *, start: datetime, success_ratio: float = 0.95, ext_ratio: float = 0.0) -> None:
        if not 0.0 <= success_ratio <= 1.0 or not 0.0 <= ext_ratio <= 1.0:
            raise ValueError("success_ratio and ext_ratio are fractions from 0 to 1")
        self.rng = random.Random(seed)
        self.start = start.astimezone(UTC8).replace(tzinfo=None, microsecond=0)
        self.success_ratio = success_ratio
        self.ext_ratio = ext_ratio
        self._countries = _table([(code, weight) for code, (weight, _) in COUNTRIES.items()])
        self._mainland = _table([((code, text), w) for code, w, text in MAINLAND_FAILURES])
        self._global = _table([((code, text), w) for code, w, text in GLOBAL_FAILURES])

    def mobile(self, nationcode: str) -> str:
        """A national number that is valid for the country (right length and mobile prefix)."""
        pattern = self.rng.choice(COUNTRIES[nationcode][1])
        rand = self.rng.randrange
        return "".join(str(rand(10)) if c == "X" else str(rand(2, 10)) if c == "N" else c for c in pattern)

    def sid(self, nationcode: str) -> str:
        """SerialNo-shaped: `2019:` + 19 digits in mainland China, `5000:` + 28 digits elsewhere."""
        if nationcode == "86":
            return f"2019:{self.rng.randrange(10**18, 10**19)}"
        return f"5000:{self.rng.randrange(10**27, 10**28)}"

    def report(self) -> dict[str, str]:
        rng = self.rng
        nationcode = rng.choices(self._countries[0], cum_weights=self._countries[1])[0]
        success = rng.random() < self.success_ratio
        if success:
            errmsg = "DELIVRD"
            description = _SUCCESS_DESCRIPTION.get(nationcode, _SUCCESS_DESCRIPTION_GLOBAL)
        else:
            codes, weights = self._mainland if nationcode == "86" else self._global
            errmsg, description = rng.choices(codes, cum_weights=weights)[0]
        moment = self.start - timedelta(seconds=rng.randrange(0, RECEIVED_WITHIN))
        values = (
            self.sid(nationcode),
            nationcode,
            self.mobile(nationcode),
            "SUCCESS" if success else "FAIL",
            errmsg,
            description,
            moment.strftime(TIME_FORMAT),
        )
        # Tencent's names, from the one module that knows them; the optional `ext` comes last
        item = dict(zip(REPORT_FIELDS[: len(values)], values, strict=True))
        if self.ext_ratio and rng.random() < self.ext_ratio:
            item["ext"] = f"order-{rng.randrange(10**9):09d}"
        return item

    def take(self, n: int) -> list[dict[str, str]]:
        return [self.report() for _ in range(n)]


_encode = msgspec.json.Encoder().encode


def encode(items: Any) -> bytes:
    """A push body: compact UTF-8 JSON, as Tencent sends it."""
    return _encode(items)


#: Kinds of malformed push `malformed` can make.
MALFORMED_KINDS = ("not_json", "not_array", "bad_items")


def malformed(kind: str, good: list[dict[str, str]]) -> tuple[bytes, list[dict[str, str]]]:
    """A push a receiver must survive → (body, the valid reports in it).

    `not_json` is a batch cut off mid-way; `not_array` is JSON of the wrong shape;
    `bad_items` is the valid reports plus one item without `sid` and one with a
    `report_status` that is neither SUCCESS nor FAIL (a good receiver stores the
    valid ones and quarantines the rest).
    """
    if kind == "not_json":
        text = encode(good)
        return text[: max(1, len(text) // 2)], []
    if kind == "not_array":
        return b'"SUCCESS"', []
    if kind == "bad_items":
        no_sid = {k: v for k, v in good[0].items() if k != "sid"} if good else {"mobile": "13800138000"}
        bad_status = {**(good[0] if good else SEED_SAMPLE), "sid": "2019:0", "report_status": "DELIVERED"}
        return encode([*good, no_sid, bad_status]), good
    raise ValueError(f"unknown malformed kind {kind!r}; one of {', '.join(MALFORMED_KINDS)}")
