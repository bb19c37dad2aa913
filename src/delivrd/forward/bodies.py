"""An event's body: the row it names, as the read API shows it, in the `Event` shape.

Built when it is sent, not when it happened: the event row stays small on the ingest path, and a row removed
since (retention, erasure of a number) leaves nothing to send."""

from __future__ import annotations

from typing import Any

import msgspec

from delivrd.domain.message_state import DELIVERED, FAILED, SUCCESS
from delivrd.forward.event import (
    MESSAGE_NO_RECEIPT,
    OPTOUT_ADDED,
    OPTOUT_REMOVED,
    REPLY_RECEIVED,
    REPORT_DELIVERED,
    REPORT_FAILED,
    Event,
)
from delivrd.query import models, optouts
from delivrd.query.category import category
from delivrd.store.base import EventRow, EventSources


def event_id(seq: int) -> str:
    """The id consumers deduplicate by: the same on every attempt and replay of the event."""
    return f"evt_{seq}"


def body(event: EventRow, sources: EventSources) -> Event | None:
    """`event` as it goes out; None when the row it names is gone."""
    data: dict[str, Any]
    if event.type in (REPORT_DELIVERED, REPORT_FAILED):
        report = sources.reports.get(event.ref)
        if report is None:
            return None
        data = msgspec.structs.asdict(models.report(report))
        data["category"] = category(DELIVERED if report.report_status == SUCCESS else FAILED, report.errmsg)
    elif event.type == REPLY_RECEIVED:
        reply = sources.replies.get(event.ref)
        if reply is None:
            return None
        data = msgspec.structs.asdict(models.reply(reply))
    elif event.type == MESSAGE_NO_RECEIPT:
        send = sources.sends.get(event.ref)
        if send is None:
            return None
        data = msgspec.structs.asdict(models.send_record(send))
    elif event.type in (OPTOUT_ADDED, OPTOUT_REMOVED):
        change = sources.optouts.get(event.ref)
        if change is None:
            return None
        data = msgspec.structs.asdict(optouts.optout(change))
    else:  # a type this delivrd does not know (a newer one wrote it): nothing it can build
        return None
    return Event(type=event.type, id=event_id(event.seq), timestamp=models.iso_utc(event.at), data=data)
