"""What the viewer key sees: phone numbers masked (`+86 138****8000`), raw bodies withheld.

One function, `for_viewer`, applied to every answer of the read API at one place (`query.http.endpoint`), after
the answer is built and before it is encoded: a field is masked by its name wherever it stands, so a route
added later is covered without knowing of it. The full `--api-key` gets answers as they are.
"""

from __future__ import annotations

import re
from typing import Any

from delivrd.domain import phones

#: fields holding a number without its country code (Tencent's `mobile`), masked as `138****8000`
MOBILE_FIELDS = frozenset({"mobile"})
#: fields holding an E.164 number (`+8613800138000`), masked as `+86 138****8000`
PHONE_FIELDS = frozenset({"phone", "PhoneNumber"})
#: fields that hold what was received as it was (bodies, quarantined items' text, unknown fields): withheld
WITHHELD_FIELDS = frozenset({"body", "body_base64", "raw", "extra"})
#: free text a person or a business wrote, which may hold a number (a reply's text, `ext`, SendSms's
#: SessionContext, a reject's reason quoting a value, an opt-out's note): each run of LONG_DIGITS digits or more masked in it
FREE_TEXT_FIELDS = frozenset({"text", "ext", "session_context", "reason", "note"})
#: the shortest run of digits taken for a phone number in free text (numbers have 7 digits and more)
LONG_DIGITS = 7
_LONG = re.compile(rf"[0-9]{{{LONG_DIGITS},}}")
#: characters kept visible at most, first and last: `138` and `8000` of `13800138000`
HEAD, TAIL = 3, 4
#: characters hidden at least, whatever the length
HIDDEN = 4


def mask_mobile(mobile: str) -> str:
    """`13800138000` → `138****8000`: at most 3 first and 4 last characters shown, at least 4 hidden (an 8-digit
    number shows 2 and 2, a 4-digit one nothing)."""
    n = len(mobile)
    shown = max(0, n - max(HIDDEN, n - HEAD - TAIL))
    tail = min(TAIL, (shown + 1) // 2)
    head = shown - tail
    return mobile[:head] + "*" * (n - head - tail) + (mobile[n - tail :] if tail else "")


def mask_phone(phone: str) -> str:
    """`+8613800138000` → `+86 138****8000`; text that is not E.164 is masked whole as a mobile."""
    try:
        nationcode, mobile = phones.split(phone)
    except ValueError:
        return mask_mobile(phone)
    return f"+{nationcode} {mask_mobile(mobile)}"


def for_viewer(value: Any) -> Any:
    """An answer (as msgspec.to_builtins gives it: dicts, lists, scalars) as the viewer key sees it."""
    if isinstance(value, dict):
        return {key: _field(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [for_viewer(item) for item in value]
    return value


def _field(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in WITHHELD_FIELDS:
        return None
    if name in MOBILE_FIELDS:
        return mask_mobile(str(value))
    if name in PHONE_FIELDS:
        return mask_phone(str(value))
    if name in FREE_TEXT_FIELDS and isinstance(value, str):
        return _LONG.sub(lambda m: mask_mobile(m.group()), value)
    return for_viewer(value)
