"""The rows every backend reads (`columns`, each table's `read`), as the read API shows them."""

from __future__ import annotations

import base64
from typing import Any, Sequence

from delivrd.query.models import InboxEntry, Reject, Reply, Report, SendRecord, extra_fields, iso_utc, iso_utc8

def report(r: Sequence[Any]) -> Report:
    return Report(
        id=r[0], sid=r[1], nationcode=r[2], mobile=r[3], report_status=r[4], errmsg=r[5], description=r[6],
        user_receive_time=r[7], ext=r[8], extra=extra_fields(r[9]), phone=r[10], received_at=iso_utc(r[11]),
        user_receive_at=iso_utc8(r[12]), duplicates=r[13],
    )  # fmt: skip


def reply(r: Sequence[Any]) -> Reply:
    return Reply(
        id=r[0], extend=r[1], mobile=r[2], nationcode=r[3], sign=r[4], text=r[5], time=r[6],
        extra=extra_fields(r[7]), phone=r[8], received_at=iso_utc(r[9]), duplicates=r[10],
    )  # fmt: skip


def reject(r: Sequence[Any]) -> Reject:
    return Reject(
        id=r[0], inbox_id=r[1], route=r[2], item_index=r[3], reason=r[4], raw=r[5], received_at=iso_utc(r[6])
    )


def inbox(r: Sequence[Any]) -> InboxEntry:
    body: bytes | None = r[8]
    text = b64 = None
    if body is not None:
        try:
            text = body.decode()
        except UnicodeDecodeError:
            b64 = base64.b64encode(body).decode()
    return InboxEntry(
        id=r[0], route=r[1], peer=r[2], status=r[3], outcome=r[4], items=r[5], rejected=r[6], size=r[7],
        body=text, body_base64=b64, received_at=iso_utc(r[9]),
    )  # fmt: skip


def send(r: Sequence[Any]) -> SendRecord:
    return SendRecord(
        id=r[0], sid=r[1], phone=r[2], nationcode=r[3], mobile=r[4], template_id=r[5], sign_name=r[6], fee=r[7],
        session_context=r[8], code=r[9], message=r[10], iso_code=r[11], sent_at=iso_utc(r[12]),
        registered_at=iso_utc(r[13]),
    )  # fmt: skip
