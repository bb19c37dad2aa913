"""The insight routes: register sends, one message, one phone, statistics, the receipt code catalogue.

Same auth, JSON and error style as `api` (its `endpoint`, `Params` and errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import msgspec
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.requests import Request
from starlette.routing import Route

from delivrd.domain import clock, message_state, phones, results, zones
from delivrd.providers.tencent import receipts
from delivrd.query import messages, models, optouts, stats
from delivrd.query.http import ApiError, BadParameter, Params, endpoint, read_body
from delivrd.store import Insight, Reader, ReportQuery, Store
from delivrd.store.base import ReportRow, SendQuery


class AnyText(PathConvertor):
    """A path parameter that may hold anything a stored value holds, a newline too (`path` stops at one)."""

    regex = "[\\s\\S]*"


register_url_convertor("anytext", AnyText())

#: receipts and sends shown for one sid or one phone
MAX_ITEMS = 1000
#: the longest `wait` of GET /v1/messages/{sid} (seconds), and how often the store is asked meanwhile
MAX_WAIT = 60
WAIT_POLL = 0.2
WAIT_PATTERN = "^(0|[1-9][0-9]?)$"


class BadBody(ApiError):
    code = results.BAD_BODY


class NotFound(ApiError):
    code = results.NOT_FOUND


class Registered(msgspec.Struct):
    """What POST /v1/messages did: `new` sends stored, `known` ones already registered (left as they were)."""

    new: int
    known: int
    messages: list[messages.MessageView]


class PhoneTimeline(msgspec.Struct):
    """Every message to one number, newest first: sends with their receipts, and receipts with no send."""

    phone: str
    nationcode: str
    mobile: str
    messages: list[messages.MessageView]
    #: the number's replies (MO), newest first
    replies: list[models.Reply] = []
    #: whether the number is on the opt-out list, and its changes
    optout: optouts.OptOutStatus | None = None


def routes(
    api_key: str | None, no_receipt_after: int, max_body_bytes: int, default_country: str, *, timezone: str = "UTC"
) -> list[Route]:
    default_zone = zones.zone(timezone)

    def pending_after() -> int:
        return message_state.pending_after(clock.now_micros(), no_receipt_after)

    async def message_view(store: Reader, sid: str, pending: int) -> messages.MessageView | None:
        sends = await store.sends(SendQuery(sid=sid, limit=1))
        page = await store.reports(ReportQuery(sid=sid, limit=MAX_ITEMS))
        if not sends and not page.items:
            return None
        return messages.view(sid, sends[0] if sends else None, page.items, pending)

    async def register(request: Request, store: Store) -> Any:
        Params(request, paged=False, window=False)
        try:
            rows = [
                send
                for call in messages.decode_calls(
                    await read_body(
                        request, max_body_bytes, "post fewer SendSms calls at once or use `delivrd import sends`"
                    )
                )
                for send in messages.sends_of(call)
            ]
        except messages.SendError as exc:
            raise BadBody(str(exc)) from None
        if not rows:
            raise BadBody("SendStatusSet is empty: there is nothing to register")
        new = await store.register_sends(rows)
        pending = pending_after()
        views = []
        for send in rows:
            if send.sid is None:
                continue
            view = await message_view(store, send.sid, pending)
            if view is not None:
                view.reports = []  # the answer says what was registered; GET /v1/messages/{sid} shows receipts
                views.append(view)
        return Registered(new=new, known=len(rows) - new, messages=views)

    async def one_message(request: Request, store: Store) -> Any:
        p = Params(request, "wait", paged=False, window=False)
        sid = request.path_params["sid"]
        wait = _wait(p.values.get("wait"))
        if wait:
            await _receipt_or_timeout(request, store, sid, wait)
        view = await message_view(store, sid, pending_after())
        if view is None:
            raise NotFound(f"no send and no receipt with sid {sid!r}")
        return view

    async def one_phone(request: Request, store: Store) -> Any:
        p = Params(request, paged=False)
        try:
            nationcode, mobile = phones.read(request.path_params["phone"], default_country)
        except ValueError as exc:
            raise BadParameter(f"the phone in the path {exc}") from None
        phone = f"+{nationcode}{mobile}"
        since, until = p.since, p.until
        sends = await store.sends(SendQuery(nationcode=nationcode, mobile=mobile, limit=MAX_ITEMS))
        page = await store.reports(
            ReportQuery(mobile=mobile, nationcode=nationcode, since=since, until=until, limit=MAX_ITEMS)
        )
        by_sid: dict[str, list[ReportRow]] = {}
        for report in page.items:
            by_sid.setdefault(report.sid, []).append(report)
        pending = pending_after()
        # (when: the send's time, or the first receipt's when no send is registered; the message)
        timeline = [
            (s.sent_at, messages.view(s.sid, s, by_sid.pop(s.sid, []) if s.sid else [], pending)) for s in sends
        ]
        timeline += [
            (min(r.received_at for r in reports), messages.view(sid, None, reports, pending))
            for sid, reports in by_sid.items()
        ]
        timeline.sort(key=lambda t: t[0], reverse=True)
        if since is not None or until is not None:
            timeline = [(at, v) for at, v in timeline if v.reports or (v.send and _within(at, since, until))]
        return PhoneTimeline(
            phone=phone,
            nationcode=nationcode,
            mobile=mobile,
            messages=[v for _, v in timeline],
            replies=await optouts.replies(store, nationcode, mobile, since, until),
            optout=await optouts.status(store, phone),
        )

    async def get_stats(request: Request, store: Insight) -> Any:
        p = Params(request, "by", "tz", paged=False)
        tz = default_zone
        if p.text("tz") is not None:
            try:
                tz = zones.zone(p.values["tz"])
            except ValueError as exc:
                raise BadParameter(f"tz: {exc}") from None
        return await stats.compute(
            store, p.since, p.until, p.choice("by", stats.GROUPS), no_receipt_after=no_receipt_after, tz=tz
        )

    async def receipt_codes(request: Request, store: Store) -> Any:
        p = Params(request, "code", paged=False, window=False)
        if "code" in p.values:
            return receipts.lookup(p.values["code"])
        return receipts.catalogue()

    return [
        Route("/v1/messages", endpoint(register, api_key), methods=["POST"]),
        Route("/v1/messages/{sid:anytext}", endpoint(one_message, api_key)),
        Route("/v1/phones/{phone}", endpoint(one_phone, api_key)),
        Route("/v1/stats", endpoint(get_stats, api_key)),
        Route("/v1/receipt-codes", endpoint(receipt_codes, api_key)),
    ]


def _wait(text: str | None) -> int:
    """The `wait` parameter: whole seconds, 0 to MAX_WAIT (0 or absent: answer at once)."""
    if text is None:
        return 0
    if not re.fullmatch(WAIT_PATTERN, text) or int(text) > MAX_WAIT:
        raise BadParameter(f"wait must be a whole number of seconds from 0 to {MAX_WAIT}; got {text!r}")
    return int(text)


async def _receipt_or_timeout(request: Request, store: Reader, sid: str, wait: int) -> None:
    """Return once `sid` has a receipt, `wait` seconds have passed, the client has gone or the server shuts down.

    A long poll (a login flow asking "was the code delivered?"): one indexed look-up by sid every WAIT_POLL."""
    stopping: asyncio.Event = request.app.state.stopping
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while not (await store.reports(ReportQuery(sid=sid, limit=1))).items:
        left = deadline - loop.time()
        if left <= 0 or stopping.is_set() or await request.is_disconnected():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), min(WAIT_POLL, left))


def _within(moment: int, since: int | None, until: int | None) -> bool:
    return (since is None or moment >= since) and (until is None or moment < until)
