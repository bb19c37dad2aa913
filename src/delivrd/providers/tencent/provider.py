"""Tencent Cloud SMS as a `Provider`: its callback decoder and receipt code catalogue behind the neutral interface."""

from __future__ import annotations

from delivrd.providers.tencent import decode, receipts


class Tencent:
    """The `Provider` for Tencent Cloud SMS's status-report and reply callbacks.

    The decoder's own functions, not wrappers: the callback route calls them once per request.
    """

    name = "tencent"
    parse_reports = staticmethod(decode.parse_reports)
    parse_replies = staticmethod(decode.parse_replies)
    category = staticmethod(receipts.category)


TENCENT = Tencent()
