"""The read API (`/v1/*`) and health: JSON over the store's query methods."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from delivrd.domain import iso_time, masking, message_state, results
from delivrd.domain.push import OUTCOMES, ROUTES
from delivrd.query import models
from delivrd.store import Reader, ReportQuery, Store, StoreError
from delivrd.store.base import ListQuery

log = logging.getLogger("delivrd.query.http")

MIN_LIMIT = 1
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
#: cursors are row ids, PostgreSQL bigint
MAX_CURSOR = 2**63 - 1

_encode = msgspec.json.Encoder().encode


def whole_number_pattern(high: int) -> str:
    """A whole number from 1 with at most as many digits as `high`, as text: ASCII digits only (`str.isdigit` and
    `int` also take '²' or '٣'), no sign, no leading zero, and never so many digits that `int` refuses the text."""
    return f"^[1-9][0-9]{{0,{len(str(high)) - 1}}}$"


#: what a cursor looks like (the OpenAPI document says so too); its value must also be at most MAX_CURSOR
CURSOR_PATTERN = whole_number_pattern(MAX_CURSOR)
#: what a text parameter may hold: anything but NUL, which no store can hold as text
TEXT_PATTERN = "^[^\\u0000]*$"
_TEXT = re.compile(TEXT_PATTERN)
#: the report_status values a report is stored with (the decoder quarantines any other), matched exactly
REPORT_STATUSES = (message_state.SUCCESS, message_state.FAIL)


class Health(msgspec.Struct, omit_defaults=True):
    """What /healthz answers: `ok`, or `unavailable` with the reason (storage does not answer, or commits fail)."""

    status: Literal["ok", "unavailable"]
    error: str | None = None


class ApiError(Exception):
    """Something the caller must fix, answered as JSON with `code`'s HTTP status."""

    code = results.BAD_PARAMETER


class BadParameter(ApiError):
    """A query or path parameter the caller must fix (answered 400, result 1007)."""


class TooLarge(ApiError):
    code = results.TOO_LARGE


async def read_body(request: Request, limit: int, advice: str) -> bytes:
    """The request body, refused (413) as soon as it passes `limit` bytes, with `advice` on what to do instead."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"{results.too_large(limit)}; {advice}")
        chunks.append(chunk)
    return b"".join(chunks)


def json_response(data: Any, status: int = 200) -> Response:
    return Response(_encode(data), status_code=status, media_type="application/json")


def error_response(code: int, message: str) -> Response:
    return Response(
        results.error_body(code, message), status_code=results.status_of(code), media_type="application/json"
    )


def parse_time(name: str, text: str) -> int:
    """`iso_time.parse_time`, its refusal answered as a BadParameter (400, result 1007)."""
    try:
        return iso_time.parse_time(name, text)
    except iso_time.BadTime as exc:
        raise BadParameter(str(exc)) from None


class Params:
    """The query string and path parameters of one request, read and checked once, before any storage is touched.

    Every client mistake is a BadParameter here (400, result 1007), on both backends alike: an unknown name,
    a NUL character (no store can hold it as text, and PostgreSQL would fail the query), a malformed or
    out-of-range number or time (given empty too), `since` not before `until`, a value an enumerated parameter
    does not list (given empty too: it would match nothing). An empty text filter filters nothing.
    """

    def __init__(self, request: Request, *allowed: str, paged: bool = True, window: bool = True) -> None:
        self.values = dict(request.query_params)
        known = {*allowed, *(("since", "until") if window else ()), *(("limit", "cursor") if paged else ())}
        unknown = sorted(set(self.values) - known)
        if unknown:
            raise BadParameter(
                f"unknown query parameter(s): {', '.join(unknown)}; this route takes " + ", ".join(sorted(known))
            )
        for name, value in [*self.values.items(), *request.path_params.items()]:
            if not _TEXT.fullmatch(str(value)):
                raise BadParameter(f"{name} contains a NUL character (\\u0000), which no stored text can hold")
        self.since = self._time("since")
        self.until = self._time("until")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise BadParameter("since must be before until")
        limit = self._whole("limit", MIN_LIMIT, MAX_LIMIT, f"a whole number from {MIN_LIMIT} to {MAX_LIMIT}")
        self.limit = limit or DEFAULT_LIMIT
        self.cursor = self._whole("cursor", 1, MAX_CURSOR, "a next_cursor value from an earlier page")

    def text(self, name: str) -> str | None:
        return self.values.get(name) or None

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        """An enumerated parameter: one of `choices` exactly, as stored (the OpenAPI document lists them too)."""
        value = self.values.get(name)
        if value is not None and value not in choices:
            raise BadParameter(f"{name} must be one of {', '.join(choices)}; got {value!r}")
        return value

    def _time(self, name: str) -> int | None:
        value = self.values.get(name)
        return None if value is None else parse_time(name, value)

    def _whole(self, name: str, low: int, high: int, what: str) -> int | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not re.fullmatch(whole_number_pattern(high), value) or not low <= int(value) <= high:
            raise BadParameter(f"{name} must be {what}; got {value!r}")
        return int(value)

    def list_query(self, **equal: str | None) -> ListQuery:
        return ListQuery(**equal, since=self.since, until=self.until, limit=self.limit, before_id=self.cursor)


Handler = Callable[[Request, Store], Awaitable[Any]]
Answer = Callable[[Request], Awaitable[Response]]


def json_errors(answer: Answer) -> Answer:
    """Every failure of a read route as a JSON answer: an ApiError as its code, a StoreError as 503, and anything
    else (a bug) as 500 INTERNAL, logged with its traceback, instead of Starlette's bare text/plain 500."""

    async def run(request: Request) -> Response:
        try:
            return await answer(request)
        except ApiError as exc:
            return error_response(exc.code, str(exc))
        except StoreError as exc:
            return error_response(results.COMMIT_FAILED, str(exc))
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return error_response(results.INTERNAL, "unexpected error in delivrd (logged); retrying will not help")

    return run


class ViewerRefused(ApiError):
    """The viewer key on a route it may not use (answered 403, result 1014)."""

    code = results.VIEWER_REFUSED


#: the methods that only read; the viewer key is refused every other (every write, whatever the route)
READING = ("GET", "HEAD")


def endpoint(handler: Handler, api_key: str | None, *, viewer: bool = True) -> Answer:
    """Wrap a handler: check the API key, turn its result into JSON (200; a handler that must answer another
    status returns its own Response) and its failures into JSON errors.

    The viewer key (`--viewer-key`, which needs `--api-key`) is the app's (`app.state.viewer_key`), so that every
    route honours it without each route factory taking it: with it, a route that reads answers as
    `masking.for_viewer` shows it (the one place masking is applied), and a write (any method but GET and
    HEAD), or a route made with `viewer=False`, is refused (403)."""
    expected = api_key.encode() if api_key else None

    @json_errors
    async def run(request: Request) -> Response:
        if expected is not None:
            viewer_key = getattr(request.app.state, "viewer_key", None)
            refused, is_viewer = _key_refused(request.headers.get("authorization"), expected, viewer_key)
            if refused is not None:
                return error_response(results.BAD_API_KEY, refused)
            if is_viewer:
                if not viewer or request.method not in READING:
                    raise ViewerRefused(
                        f"{request.method} {request.url.path} is not open to the viewer key (--viewer-key), which"
                        " reads masked data only: writes and raw bodies need the API key (--api-key)"
                    )
                shown = await handler(request, request.app.state.store)
                if isinstance(shown, Response):  # a stream or a body of its own: nothing masking could pass
                    raise ViewerRefused(f"{request.url.path} is not open to the viewer key (--viewer-key)")
                return json_response(masking.for_viewer(msgspec.json.decode(_encode(shown))))
        answer = await handler(request, request.app.state.store)
        return answer if isinstance(answer, Response) else json_response(answer)

    return run


def _key_refused(header: str | None, expected: bytes, viewer_key: str | None = None) -> tuple[str | None, bool]:
    """Why `header` does not carry the API key (or the viewer key), or None when it does, and whether it is the
    viewer key: a missing key and a wrong one read differently, so a caller knows whether to send the header or
    to check the key (compared in constant time)."""
    scheme, _, given = (header or "").partition(" ")
    if header and scheme != "Bearer":
        named = f"; got a {scheme} one" if given else ""
        return f"the Authorization header must be 'Bearer <key>'{named}", False
    if not given:
        return "no API key given: send 'Authorization: Bearer <key>' with the key delivrd runs with (--api-key)", False
    key = given.encode("latin-1", "replace")
    if hmac.compare_digest(key, expected):
        return None, False
    if viewer_key and hmac.compare_digest(key, viewer_key.encode()):
        return None, True
    named = " or --viewer-key" if viewer_key else ""
    return f"the API key given is not the one configured (--api-key{named})", False


async def list_reports(request: Request, store: Reader) -> Any:
    p = Params(request, "sid", "mobile", "nationcode", "report_status", "errmsg")
    query = ReportQuery(
        sid=p.text("sid"),
        mobile=p.text("mobile"),
        nationcode=p.text("nationcode"),
        report_status=p.choice("report_status", REPORT_STATUSES),
        errmsg=p.text("errmsg"),
        since=p.since,
        until=p.until,
        limit=p.limit,
        before_id=p.cursor,
    )
    return models.page(await store.reports(query), models.report)


async def list_rejects(request: Request, store: Reader) -> Any:
    p = Params(request, "route")
    return models.page(await store.rejects(p.list_query(route=p.choice("route", ROUTES))), models.reject)


async def list_replies(request: Request, store: Reader) -> Any:
    p = Params(request, "mobile")
    return models.page(await store.replies(p.list_query(mobile=p.text("mobile"))), models.reply)


async def list_inbox(request: Request, store: Reader) -> Any:
    p = Params(request, "route", "outcome")
    query = p.list_query(route=p.choice("route", ROUTES), outcome=p.choice("outcome", tuple(OUTCOMES)))
    return models.page(await store.inbox(query), models.inbox_entry)


@json_errors
async def healthz(request: Request) -> Response:
    """503 while storage does not answer, or while commits fail (a full disk still answers reads)."""
    error = request.app.state.writer.failing
    try:
        await request.app.state.store.ping()
    except StoreError as exc:
        error = str(exc)
    if error is not None:
        return json_response(Health("unavailable", error), status=503)
    return json_response(Health("ok"))


def routes(api_key: str | None) -> list[Route]:
    return [
        Route("/v1/reports", endpoint(list_reports, api_key)),
        Route("/v1/rejects", endpoint(list_rejects, api_key)),
        Route("/v1/replies", endpoint(list_replies, api_key)),
        Route("/v1/inbox", endpoint(list_inbox, api_key, viewer=False)),  # raw bodies: the API key only
        Route("/healthz", healthz),
    ]


def one_route_per_path(routes: list[BaseRoute]) -> list[BaseRoute]:
    """`routes` with the routes of one path (one per method, from the modules that own each) made one route, so
    that a method the path does not take is answered 405 with an `Allow` of every method it does take, not of
    whichever route matched first."""
    by_path: dict[str, list[Route]] = {}
    merged: list[BaseRoute] = []
    for route in routes:
        if isinstance(route, Route) and route.methods:
            if route.path not in by_path:
                by_path[route.path] = []
                merged.append(route)  # its place, taken by the merged route below
            by_path[route.path].append(route)
        else:
            merged.append(route)
    for n, route in enumerate(merged):
        if not isinstance(route, Route) or len(group := by_path.get(route.path, [])) < 2:
            continue
        answers = {method: r.endpoint for r in group for method in r.methods or ()}

        async def answer(request: Request, answers: dict[str, Any] = answers) -> Response:
            return await answers[request.method](request)

        merged[n] = Route(route.path, answer, methods=sorted(answers))
    return merged
