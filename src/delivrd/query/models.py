"""The shapes the read API returns, and how the store's rows become them (the one place times become ISO text).

msgspec structs, so they are also the OpenAPI schema.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated, TypeVar

import msgspec

from delivrd.domain import storable
from delivrd.domain.clock import UTC8
from delivrd.domain.push import OUTCOMES, ROUTES
from delivrd.store import base as stored

Row = TypeVar("Row")

#: what a `route` field holds
ROUTE = "the callback route the body reached: " + " or ".join(ROUTES)


def iso_utc(micros: int) -> str:
    """Microseconds since the epoch → ISO 8601 in UTC (`…Z`).

    Total: delivrd checks times on the way in (`storable`), and a value stored before those
    checks existed is shown at the nearest moment the API can show, never an error.
    """
    micros = min(max(micros, storable.FIRST_MICRO), storable.LAST_MICRO)
    return storable.moment(micros).isoformat(timespec="microseconds").replace("+00:00", "Z")


def iso_utc8(seconds: int | None) -> str | None:
    """Unix seconds → ISO 8601 with the +08:00 offset Tencent's times are in; None when it cannot be shown
    (the text Tencent sent is kept beside it)."""
    if seconds is None or not storable.seconds(seconds):
        return None
    return storable.moment(seconds * 1_000_000, UTC8).isoformat()


class Report(msgspec.Struct, kw_only=True):
    """A delivery-status report: Tencent's fields as received, derived fields beside them."""

    id: int
    sid: str
    nationcode: str | None
    mobile: str
    report_status: str
    errmsg: str | None
    description: str | None
    user_receive_time: str | None
    ext: str | None
    extra: dict[str, msgspec.Raw] | None = msgspec.field(default=None)
    phone: str | None
    received_at: str
    user_receive_at: str | None
    duplicates: int


class Reply(msgspec.Struct, kw_only=True):
    """A reply (MO) SMS: Tencent's fields as received, derived fields beside them."""

    id: int
    extend: str | None
    mobile: str
    nationcode: str | None
    sign: str | None
    text: str | None
    time: int | None
    extra: dict[str, msgspec.Raw] | None = None
    phone: str | None
    received_at: str
    duplicates: int


class Reject(msgspec.Struct, kw_only=True):
    """An item (or a whole body) that could not be understood, with why and as received."""

    id: int
    inbox_id: int
    route: Annotated[str, msgspec.Meta(description=ROUTE)]
    item_index: Annotated[
        Annotated[int, msgspec.Meta(ge=0)] | None,
        msgspec.Meta(
            description="the item's place in the body, counted from 0 as in a JSON array: the first item is 0,"
            " the second 1; null for the body as a whole, or for the row that counts the items not listed",
        ),
    ]
    reason: str
    raw: str | None
    received_at: str


class InboxEntry(msgspec.Struct, kw_only=True):
    """One request body that reached a callback route, and what came of it."""

    id: int
    route: Annotated[str, msgspec.Meta(description=ROUTE)]
    peer: str | None
    status: int
    outcome: Annotated[str, msgspec.Meta(description="what came of the body: " + ", ".join(OUTCOMES))]
    items: int
    rejected: int
    size: int
    body: str | None
    body_base64: str | None
    received_at: str


class SendRecord(msgspec.Struct, kw_only=True):
    """A registered send: one number of one SendSms call, with Tencent's names in snake case."""

    id: int
    sid: str | None
    phone: str
    nationcode: str | None
    mobile: str
    template_id: str | None
    sign_name: str | None
    fee: int | None
    session_context: str | None
    code: str | None
    message: str | None
    iso_code: str | None
    sent_at: str
    registered_at: str


class Page(msgspec.Struct):
    """A keyset page, newest first: pass `next_cursor` back as `cursor` for the next one."""

    items: list
    next_cursor: str | None


def extra_fields(text: str | None) -> dict[str, msgspec.Raw] | None:
    """The stored JSON text of unknown fields, returned as they were received."""
    if text is None:
        return None
    try:
        return msgspec.json.decode(text, type=dict[str, msgspec.Raw])
    except RecursionError:  # stored before ingest bounded their depth (storable.MAX_DEPTH): shown as text
        return {"(too deep to show)": msgspec.Raw(msgspec.json.encode(text))}


# -- the store's rows as the API shows them ------------------------------------------------------------------


def report(r: stored.ReportRow) -> Report:
    return Report(
        id=r.id,
        sid=r.sid,
        nationcode=r.nationcode,
        mobile=r.mobile,
        report_status=r.report_status,
        errmsg=r.errmsg,
        description=r.description,
        user_receive_time=r.user_receive_time,
        ext=r.ext,
        extra=extra_fields(r.extra),
        phone=r.phone,
        received_at=iso_utc(r.received_at),
        user_receive_at=iso_utc8(r.user_receive_ts),
        duplicates=r.duplicates,
    )


def reply(r: stored.ReplyRow) -> Reply:
    return Reply(
        id=r.id,
        extend=r.extend,
        mobile=r.mobile,
        nationcode=r.nationcode,
        sign=r.sign,
        text=r.text,
        time=r.time,
        extra=extra_fields(r.extra),
        phone=r.phone,
        received_at=iso_utc(r.received_at),
        duplicates=r.duplicates,
    )


def reject(r: stored.RejectRow) -> Reject:
    return Reject(
        id=r.id,
        inbox_id=r.inbox_id,
        route=r.route,
        item_index=r.item_index,
        reason=r.reason,
        raw=r.raw,
        received_at=iso_utc(r.received_at),
    )


def inbox_entry(r: stored.InboxRow) -> InboxEntry:
    """The body as text when it is UTF-8, else as base64 (the bytes exactly)."""
    text = b64 = None
    if r.body is not None:
        try:
            text = r.body.decode()
        except UnicodeDecodeError:
            b64 = base64.b64encode(r.body).decode()
    return InboxEntry(
        id=r.id,
        route=r.route,
        peer=r.peer,
        status=r.status,
        outcome=r.outcome,
        items=r.items,
        rejected=r.rejected,
        size=r.size,
        body=text,
        body_base64=b64,
        received_at=iso_utc(r.received_at),
    )


def send_record(r: stored.SendRow) -> SendRecord:
    return SendRecord(
        id=r.id,
        sid=r.sid,
        phone=r.phone,
        nationcode=r.nationcode,
        mobile=r.mobile,
        template_id=r.template_id,
        sign_name=r.sign_name,
        fee=r.fee,
        session_context=r.session_context,
        code=r.code,
        message=r.message,
        iso_code=r.iso_code,
        sent_at=iso_utc(r.sent_at),
        registered_at=iso_utc(r.registered_at),
    )


def page(rows: stored.Page[Row], shown: Callable[[Row], msgspec.Struct]) -> Page:
    """A page of the store's rows as the API answers it: each row shown, the cursor as text."""
    cursor = None if rows.next_before_id is None else str(rows.next_before_id)
    return Page(items=[shown(row) for row in rows.items], next_cursor=cursor)
