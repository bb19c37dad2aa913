"""The provider boundary: each SMS provider's wire format behind one package (`tencent/`), the rest of delivrd
speaking the terms of `providers.base` (see docs/providers.md)."""

from __future__ import annotations

from delivrd.providers.base import Provider


def default() -> Provider:
    """The provider the callback routes speak when none is chosen: Tencent Cloud SMS, the only one so far.

    Imported when asked for, so that what needs only the neutral terms does not load Tencent's decoder.
    """
    from delivrd.providers.tencent.provider import TENCENT

    return TENCENT
