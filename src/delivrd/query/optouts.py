"""The opt-out list over HTTP: list it, add and remove numbers by hand, and what `GET /v1/phones/{e164}` shows of
it (the number's status, its changes, its replies). Same auth, JSON and error style as `query.http`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.routing import Route

from delivrd.domain import clock, phones, results, storable, unsubscribe
from delivrd.query import models
from delivrd.query.http import ApiError, BadParameter, Params, endpoint, json_response, read_body
from delivrd.store import Store
from delivrd.store.base import ListQuery, OptOutChange, OptOutQuery, OptOutRow, OptOuts, Reader

#: a POST body larger than this is refused (it holds a number and a note)
MAX_BODY = 64 * 1024
#: how long a note may be
MAX_NOTE = 1000
#: changes and replies shown for one number
MAX_ITEMS = 1000


class BadBody(ApiError):
    code = results.BAD_BODY


class NotFound(ApiError):
    code = results.NOT_FOUND


class OptOut(msgspec.Struct, kw_only=True):
    """One change to the opt-out list; as an entry of the list, the change that put the number on it."""

    id: int
    phone: str
    nationcode: str
    mobile: str
    action: str  # added | removed
    source: str  # reply | manual | import
    sign: str | None
    extend: str | None
    reply_id: int | None
    note: str | None  # a person's note; for a reply, its text as received
    at: str


class OptOutStatus(msgspec.Struct, kw_only=True):
    """A number's place on the opt-out list: on it or not, since which change, and every change, newest first."""

    opted_out: bool
    entry: OptOut | None
    changes: list[OptOut]


class OptOutRequest(msgspec.Struct, forbid_unknown_fields=True):
    """POST /v1/optouts: the number (E.164; digits alone are a number of --default-country), and optionally
    the sign or extend code it concerns and a note."""

    phone: str
    sign: str | None = None
    extend: str | None = None
    note: str | None = None


def optout(r: OptOutRow) -> OptOut:
    return OptOut(
        id=r.id,
        phone=r.phone,
        nationcode=r.nationcode,
        mobile=r.mobile,
        action=r.action,
        source=r.source,
        sign=r.sign,
        extend=r.extend,
        reply_id=r.reply_id,
        note=r.note,
        at=models.iso_utc(r.at),
    )


async def status(store: OptOuts, phone: str) -> OptOutStatus:
    """Where `phone` (E.164) stands on the list, from its history (newest change first)."""
    changes = (await store.optout_changes(OptOutQuery(phone=phone, limit=MAX_ITEMS))).items
    latest = changes[0] if changes else None
    on = latest is not None and latest.action == unsubscribe.ADDED
    return OptOutStatus(
        opted_out=on, entry=optout(latest) if on and latest else None, changes=[optout(c) for c in changes]
    )


async def replies(
    store: Reader, nationcode: str, mobile: str, since: int | None, until: int | None
) -> list[models.Reply]:
    """The number's replies (MO), newest first."""
    page = await store.replies(ListQuery(mobile=mobile, since=since, until=until, limit=MAX_ITEMS))
    return [models.reply(r) for r in page.items if r.nationcode == nationcode]


def _phone(text: str, default_country: str, where: str) -> tuple[str, str, str]:
    try:
        nationcode, mobile = phones.read(text, default_country)
    except ValueError as exc:
        raise BadParameter(f"{where} {exc}") from None
    return f"+{nationcode}{mobile}", nationcode, mobile


def _text(name: str, value: str | None, *, key: bool = False, limit: int = MAX_NOTE) -> str | None:
    if value is None:
        return None
    try:
        storable.text(name, value, key=key)
    except ValueError as exc:
        raise BadBody(str(exc)) from None
    if len(value) > limit:
        raise BadBody(f"field {name!r} is longer than {limit} characters ({len(value)})")
    return value


def routes(api_key: str | None, default_country: str) -> list[Route]:
    def query(p: Params) -> OptOutQuery:
        phone = p.text("phone")
        return OptOutQuery(
            phone=None if phone is None else _phone(phone, default_country, "phone")[0],
            source=p.choice("source", unsubscribe.SOURCES),
            sign=p.text("sign"),
            extend=p.text("extend"),
            since=p.since,
            until=p.until,
            limit=p.limit,
            before_id=p.cursor,
        )

    async def listed(request: Request, store: Store) -> Any:
        p = Params(request, "phone", "source", "sign", "extend")
        return models.page(await store.optouts(query(p)), optout)

    async def history(request: Request, store: Store) -> Any:
        p = Params(request, "phone", "source", "sign", "extend", "action")
        found = replace(query(p), action=p.choice("action", unsubscribe.ACTIONS))
        return models.page(await store.optout_changes(found), optout)

    async def add(request: Request, store: Store) -> Any:
        Params(request, paged=False, window=False)
        try:
            asked = msgspec.json.decode(
                await read_body(request, MAX_BODY, "an opt-out holds one number"), type=OptOutRequest
            )
        except msgspec.DecodeError as exc:
            raise BadBody(
                f"the body must be a JSON object with phone (and optionally sign, extend, note): {exc}"
            ) from None
        phone, nationcode, mobile = _phone(asked.phone, default_country, "phone")
        change = OptOutChange(
            phone,
            nationcode,
            mobile,
            unsubscribe.ADDED,
            unsubscribe.MANUAL,
            clock.now_micros(),
            sign=_text("sign", asked.sign, key=True, limit=storable.KEY_CHARS),
            extend=_text("extend", asked.extend, key=True, limit=storable.KEY_CHARS),
            note=_text("note", asked.note),
        )
        (stored,) = await store.change_optouts([change])
        if stored is None:  # already on the list: as it was
            current = (await store.optouts(OptOutQuery(phone=phone, limit=1))).items
            return json_response(optout(current[0]) if current else None, 200)
        return json_response(optout(stored), 201)

    async def remove(request: Request, store: Store) -> Any:
        p = Params(request, "note", paged=False, window=False)
        phone, nationcode, mobile = _phone(request.path_params["phone"], default_country, "the phone in the path")
        change = OptOutChange(
            phone,
            nationcode,
            mobile,
            unsubscribe.REMOVED,
            unsubscribe.MANUAL,
            clock.now_micros(),
            note=_text("note", p.text("note")),
        )
        (stored,) = await store.change_optouts([change])
        if stored is None:
            raise NotFound(f"{phone} is not on the opt-out list")
        return optout(stored)

    return [
        Route("/v1/optouts", endpoint(listed, api_key), methods=["GET"]),
        Route("/v1/optouts", endpoint(add, api_key), methods=["POST"]),
        Route("/v1/optouts/changes", endpoint(history, api_key), methods=["GET"]),
        Route("/v1/optouts/{phone}", endpoint(remove, api_key), methods=["DELETE"]),
    ]
