"""Phone numbers in E.164 and the country calling codes that start them.

A callback carries a number as (nationcode, mobile); SendSms and people write
`+8613800138000`. Both directions live here, so that a report's `phone` is exactly what
`GET /v1/phones/{e164}` splits back into the same (nationcode, mobile). People also type a
number as their country writes it (`13800138000`), which `read` places with a default country.
"""

from __future__ import annotations

import argparse

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


def calling_code(text: str) -> str:
    """The `--default-country` setting: `86` or `+86` → `86`; ArgumentTypeError (as option_types' parsers raise)
    for anything that is not a country calling code."""
    code = text.strip().removeprefix("+")
    if code not in CALLING_CODES:
        raise argparse.ArgumentTypeError(f"not a country calling code: {text!r} (examples: 86, 1, 44, 852)")
    return code


def read(text: str, default_country: str) -> tuple[str, str]:
    """A number as a person types it → (nationcode, mobile). With `+` it is E.164, taken as is (`split`); digits
    alone are a number of `default_country` written as people there write it, so `13800138000` with 86 is
    +8613800138000 and a trunk `0`, an international `00` or the country code in front are understood
    (libphonenumber's reading). ValueError naming what was given otherwise."""
    text = text.strip()
    if text.startswith("+"):
        return split(text)
    if not (text.isascii() and text.isdigit()):
        raise ValueError(
            f"must be + and digits (E.164) or digits alone (a +{default_country} number: --default-country);"
            f" got {text!r}"
        )
    region = phonenumbers.region_code_for_country_code(int(default_country))
    if region in (phonenumbers.UNKNOWN_REGION, phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY):  # 800, 882 …: no rules
        return split(f"+{default_country}{text}")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValueError(
            f"is not a phone number, read as a +{default_country} number (--default-country); got {text!r}"
        ) from None
    return split(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
