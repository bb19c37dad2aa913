"""Sends as the business registers them (Tencent's SendSms names), and the state of one message.

`POST /v1/messages` and `delivrd import sends` take the SendSms call the way the SDK
shows it: the response's `SendStatusSet` merged with the request's `TemplateId` and
`SignName`, plus an optional `SentAt`. Unknown keys (`RequestId`, …) are ignored. The
state rules are `domain.message_state`'s; here they are applied to one message, in
Python, for the message and phone views.
"""

from __future__ import annotations

from typing import Annotated, overload

import msgspec

from delivrd.domain import clock, iso_time, phones, storable
from delivrd.domain import message_state as rules
from delivrd.query import models
from delivrd.query.category import category
from delivrd.query.models import Report, SendRecord
from delivrd.store.base import ReportRow, Send, SendRow


class SendError(ValueError):
    """A send that cannot be registered as given; the message says what to fix."""


class SendStatus(msgspec.Struct):
    """One entry of SendSms's SendStatusSet."""

    PhoneNumber: str
    SerialNo: str | None = None
    Fee: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None  # SMS billed: a small count
    SessionContext: str | None = None
    Code: str | None = None
    Message: str | None = None
    IsoCode: str | None = None


class SendSmsCall(msgspec.Struct):
    """One SendSms call: the response's SendStatusSet and the request's TemplateId, SignName; SentAt optional."""

    SendStatusSet: list[SendStatus]
    TemplateId: str | int | None = None
    SignName: str | None = None
    SentAt: str | None = None


class MessageView(msgspec.Struct, kw_only=True):
    """What is known about one message: its send (if registered), its receipts and its state."""

    sid: str | None
    state: str
    code: str | None
    category: str | None
    latency_ms: int | None
    send: SendRecord | None
    reports: list[Report]


_decode_call = msgspec.json.Decoder(SendSmsCall | list[SendSmsCall]).decode


def decode_calls(body: bytes) -> list[SendSmsCall]:
    """A request body → its calls (one object, an array of them, or Tencent's `{"Response": {...}}` wrapper)."""
    try:
        data = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise SendError(f"body is not valid JSON: {exc}") from None
    if type(data) is dict and "SendStatusSet" not in data and type(data.get("Response")) is dict:
        body = msgspec.json.encode(data["Response"])
    try:
        calls = _decode_call(body)
    except msgspec.DecodeError as exc:
        raise SendError(
            f'not a SendSms call: {exc} (expected {{"SendStatusSet": [{{"SerialNo", '
            '"PhoneNumber", …}}], "TemplateId", "SignName", "SentAt"}})'
        ) from None
    return calls if type(calls) is list else [calls]


def sent_at_micros(text: str | None, now: int | None = None) -> int:
    """SentAt (ISO 8601; no offset means UTC) → microseconds; absent means now."""
    if text is None or text == "":
        return clock.now_micros() if now is None else now
    try:
        return iso_time.parse_time("SentAt", text)
    except iso_time.BadTime as exc:
        raise SendError(str(exc)) from None


def split_phone(phone: str) -> tuple[str, str]:
    """E.164 `+8613800138000` → (`86`, `13800138000`): the callback's nationcode and mobile."""
    try:
        return phones.split(phone)
    except ValueError as exc:
        raise SendError(f"PhoneNumber {exc}") from None


def sends_of(call: SendSmsCall, now: int | None = None) -> list[Send]:
    """The rows one call registers: one per number."""
    sent_at = sent_at_micros(call.SentAt, now)
    template = None if call.TemplateId is None else _text("TemplateId", str(call.TemplateId), key=True)
    sign = None if call.SignName is None else _text("SignName", call.SignName, key=True)
    out = []
    for status in call.SendStatusSet:
        nationcode, mobile = split_phone(_text("PhoneNumber", status.PhoneNumber, key=True))
        sid = _text("SerialNo", status.SerialNo, key=True) or None
        for name in ("SessionContext", "Message", "IsoCode"):
            _text(name, getattr(status, name))
        _text("Code", status.Code, key=True)
        if sid is None and (status.Code is None or status.Code == "Ok"):
            raise SendError(f"{status.PhoneNumber}: SerialNo is required when Code is Ok (it is the receipts' sid)")
        out.append(
            Send(
                phone=status.PhoneNumber,
                nationcode=nationcode,
                mobile=mobile,
                sent_at=sent_at,
                sid=sid,
                template_id=template,
                sign_name=sign,
                fee=status.Fee,
                session_context=status.SessionContext,
                code=status.Code,
                message=status.Message,
                iso_code=status.IsoCode,
            )
        )
    return out


@overload
def _text(name: str, value: str, *, key: bool = False) -> str: ...
@overload
def _text(name: str, value: str | None, *, key: bool = False) -> str | None: ...
def _text(name: str, value: str | None, *, key: bool = False) -> str | None:
    """A SendSms field as the stores can hold it (`storable.text`), else SendError saying why."""
    if value is None:
        return None
    try:
        return storable.text(name, value, key=key)
    except ValueError as exc:
        raise SendError(str(exc)) from None


def view(sid: str | None, send: SendRow | None, reports: list[ReportRow], pending_after: int) -> MessageView:
    """One message's state from its send and receipts, by the rules the store's `messages` table keeps.

    Its time, as the store's: the send's, else its first receipt's."""
    if send is not None:
        reports = [r for r in reports if r.mobile == send.mobile]
    outcome, code = rules.outcome(((r.report_status, r.errmsg) for r in reports), None if send is None else send.code)
    at = send.sent_at if send is not None else min((r.received_at for r in reports), default=0)
    state = rules.state(outcome, at, pending_after)
    latency = None
    if state == rules.DELIVERED and send is not None:
        times = [
            r.user_receive_ts
            for r in reports
            if r.report_status == rules.SUCCESS
            and r.user_receive_ts is not None
            and storable.seconds(r.user_receive_ts)
        ]
        latency = None if not times else rules.latency_s(min(times), send.sent_at) * 1000
    return MessageView(
        sid=sid,
        state=state,
        code=code,
        category=category(state, code),
        latency_ms=latency,
        send=None if send is None else models.send_record(send),
        reports=[models.report(r) for r in reports],
    )
