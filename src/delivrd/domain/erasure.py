"""Erasing one phone number: the forms it is stored in, and its digits masked inside text and raw bodies.

A number is kept as Tencent sent it: `mobile` without the country code and `nationcode` beside it (reports and
replies alike), but a sender may also put the country code in `mobile` (`8613800138000`, `+8613800138000`), and
SendSms's `PhoneNumber` is E.164. `forms` lists them all; the stores erase rows holding any of them.

Inside a raw body (and a quarantined item's text) the number's digits are replaced in place by a fixed mask,
everything else left byte for byte, so that a JSON body stays JSON: in a JSON string each digit becomes `*`
(`"13800138000"` → `"***********"`), and a JSON number becomes a string of the same mask (`13800138000` →
`"***********"`: a JSON number cannot hold a mask). Only whole runs of digits equal to the number are masked,
so a longer number that contains its digits is left alone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from delivrd.domain.clock import DAY_US
from delivrd.domain.push import PARTIAL, QUARANTINED, STORED

#: what a message's `mobile` becomes once its number is erased, followed by the message's id: the row (and so
#: every count) stays, the unique (sid, mobile) key cannot collide, and no digits of the number remain
ERASED_MOBILE = "erased:"
#: the tables whose rows an erasure keeps with the number masked in them (the others' rows it removes)
MASKED_TABLES = ("messages", "rejects", "inbox", "optout_changes", "optouts")
#: how long after a push its retries are looked for in the inbox (Tencent retries within minutes; a body that
#: came back days later is past any retry)
RETRY_WINDOW = 3 * DAY_US
#: the bodies not read as items (not JSON, cut short, refused): those an erasure searches beyond its rows' own
UNREAD = f"outcome NOT IN ({', '.join(repr(o) for o in (STORED, PARTIAL, QUARANTINED))})"
#: what each digit of an erased number becomes inside text and bodies
MASK = b"*"

#: a JSON string (or one left unterminated at the end of a body cut short), and everything between strings
_SEGMENTS = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\Z)|[^"]+', re.DOTALL)


def suppressed(phone: str) -> str:
    """What an erased number's opt-out keeps instead of the number (E.164 in): its SHA-256, so the number stays
    refused for marketing (the person asked not to be contacted) without being stored. A lookup of the number
    finds it by the same function."""
    return "erased:sha256:" + hashlib.sha256(phone.encode()).hexdigest()


def mine(nationcode: str, mobile: str, stored_mobile: str, stored_nationcode: str | None) -> bool:
    """Whether a stored (mobile, nationcode) found by one of `forms` is this number: its national digits with its
    country code or none, or its digits with the country code in front."""
    return stored_mobile != mobile or (stored_nationcode or "") in ("", nationcode)


def retry_windows(times: Iterable[int]) -> list[tuple[int, int]]:
    """[t, t + RETRY_WINDOW) for each time (µs), overlapping ones merged: where a retry of a push may be."""
    merged: list[list[int]] = []
    for t in sorted(times):
        if merged and t <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], t + RETRY_WINDOW)
        else:
            merged.append([t, t + RETRY_WINDOW])
    return [(a, b) for a, b in merged]


def forms(nationcode: str, mobile: str) -> tuple[str, ...]:
    """The texts a stored `mobile` holds when it is this number: `13800138000`, `8613800138000`,
    `+8613800138000`. Rows holding the first are the number's when their nationcode is this one or unknown."""
    return (mobile, nationcode + mobile, f"+{nationcode}{mobile}")


class Masker:
    """Masks one number's digits (`nationcode`, `mobile`) in bodies and text."""

    def __init__(self, nationcode: str, mobile: str) -> None:
        runs = b"|".join(re.escape(d.encode()) for d in (nationcode + mobile, mobile))  # the longer one first
        self.digits = mobile.encode()
        self._in_string = re.compile(rb"(?<![0-9])(?:" + runs + rb")(?![0-9])")
        self._as_number = re.compile(rb"(?<![0-9.eE+\-])(?:" + runs + rb")(?![0-9.eE])")

    def mask_bytes(self, body: bytes) -> bytes:
        """`body` with every whole run of the number's digits masked (see the module's docstring)."""
        if self.digits not in body:
            return body
        return b"".join(self._segment(m.group()) for m in _SEGMENTS.finditer(body))

    def mask_text(self, text: str) -> str:
        """`mask_bytes` for stored text (a quarantined item's raw text, a reason)."""
        return self.mask_bytes(text.encode("utf-8", "surrogatepass")).decode("utf-8", "surrogatepass")

    def _segment(self, segment: bytes) -> bytes:
        if segment.startswith(b'"'):
            return self._in_string.sub(lambda m: MASK * len(m.group()), segment)
        return self._as_number.sub(lambda m: b'"' + MASK * len(m.group()) + b'"', segment)
