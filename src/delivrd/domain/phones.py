"""Phone numbers in E.164 and the country calling codes that start them.

A callback carries a number as (nationcode, mobile); SendSms and people write
`+8613800138000`. Both directions live here, so that a report's `phone` is exactly what
`GET /v1/phones/{e164}` splits back into the same (nationcode, mobile).
"""

from __future__ import annotations

import phonenumbers

#: ITU-T E.164 country calling codes, as text ("1", "86", "852", "800" …); no code is a prefix of another
CALLING_CODES = frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def e164(nationcode: str | None, mobile: str | None) -> str | None:
    """`+<nationcode><mobile>` when nationcode is a calling code and mobile plain digits; else None
    (masked numbers such as `13xxxxxxxxx`, or a nationcode no country has)."""
    if not mobile or nationcode not in CALLING_CODES:
        return None
    if not (mobile.isascii() and mobile.isdigit()):
        return None
    return f"+{nationcode}{mobile}"


def split(phone: str) -> tuple[str, str]:
    """E.164 `+8613800138000` → (`86`, `13800138000`); ValueError saying why when it is not one."""
    digits = phone[1:] if phone.startswith("+") else ""
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"must be E.164 (+ and digits); got {phone!r}")
    for length in (1, 2, 3):
        if digits[:length] in CALLING_CODES:
            if len(digits) == length:
                break
            return digits[:length], digits[length:]
    else:
        raise ValueError(f"{phone!r} does not start with a known country calling code")
    raise ValueError(f"{phone!r} has a country calling code and no number after it")
