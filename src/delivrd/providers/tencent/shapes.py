"""Tencent's callback bodies as the OpenAPI document describes them (the decoder, `decode`, is what reads them)."""

from __future__ import annotations

import msgspec


class TencentReport(msgspec.Struct, kw_only=True):
    """One status report as Tencent pushes it; unknown extra fields are accepted and kept."""

    user_receive_time: str
    nationcode: str
    mobile: str
    report_status: str
    errmsg: str
    description: str
    sid: str
    ext: str | None = None


class TencentReply(msgspec.Struct, kw_only=True):
    """One reply (MO) SMS as Tencent pushes it."""

    extend: str
    mobile: str
    nationcode: str
    sign: str
    text: str
    time: int
