"""A message's category, the one word the answers group failures by: `delivered`, why it failed (the
provider's receipt catalogue), or None while it has no outcome. The statistics, the message view and the
export all ask here."""

from __future__ import annotations

from functools import cache

from delivrd import providers
from delivrd.domain.message_state import DELIVERED, FAILED
from delivrd.providers.base import Provider


@cache
def _provider() -> Provider:
    return providers.default()


def category(state: str, code: str | None) -> str | None:
    """`delivered`, the failure category of a failed message's code, or None (pending, no_receipt)."""
    if state == DELIVERED:
        return DELIVERED
    return _provider().category(code) if state == FAILED else None
