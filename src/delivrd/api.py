"""The read API (`/v1/*`), health and metrics: JSON over the store's query methods."""

from __future__ import annotations

import hmac
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from delivrd import results
from delivrd.store import ReportQuery, Store, StoreError
from delivrd.store.base import ListQuery

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100

_encode = msgspec.json.Encoder().encode


class ApiError(Exception):
    """Something the caller must fix, answered as JSON with `code`'s HTTP status."""

    code = results.BAD_PARAMETER


class BadParameter(ApiError):
    """A query parameter the caller must fix (answered 400, result 1007)."""


def json_response(data: Any, status: int = 200) -> Response:
    return Response(_encode(data), status_code=status, media_type="application/json")


def error_response(code: int, message: str) -> Response:
    return Response(results.error_body(code, message), status_code=results.status_of(code), media_type="application/json")


def parse_time(name: str, text: str) -> int:
    """ISO 8601 (date, or date and time; no offset means UTC) → microseconds since the epoch."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadParameter(f"{name} must be an ISO 8601 date or time, e.g. 2026-11-24T08:00:00Z; got {text!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1_000_000)


class Params:
    """The query string of one request, read once, with every name checked against what the route takes."""

    def __init__(self, request: Request, *allowed: str, paged: bool = True) -> None:
        self.values = dict(request.query_params)
        known = {*allowed, "since", "until", *(("limit", "cursor") if paged else ())}
        unknown = sorted(set(self.values) - known)
        if unknown:
            raise BadParameter(
                f"unknown query parameter(s): {', '.join(unknown)}; this route takes " + ", ".join(sorted(known))
            )

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value else None

    def time(self, name: str) -> int | None:
        value = self.text(name)
        return None if value is None else parse_time(name, value)

    def limit(self) -> int:
        value = self.values.get("limit", str(DEFAULT_LIMIT))
        if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
            raise BadParameter(f"limit must be a whole number from 1 to {MAX_LIMIT}; got {value!r}")
        return int(value)

    def cursor(self) -> int | None:
        value = self.text("cursor")
        if value is None:
            return None
        if not value.isdigit():
            raise BadParameter(f"cursor must be a next_cursor value from an earlier page; got {value!r}")
        return int(value)

    def list_query(self, **equal: str | None) -> ListQuery:
        return ListQuery(
            **equal, since=self.time("since"), until=self.time("until"), limit=self.limit(), before_id=self.cursor()
        )


Handler = Callable[[Request, Store], Awaitable[Any]]


def endpoint(handler: Handler, api_key: str | None) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: check the API key, turn its result into JSON and its failures into JSON errors."""
    expected = f"Bearer {api_key}".encode() if api_key else None

    async def run(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode("latin-1", "replace")
            if not hmac.compare_digest(given, expected):
                return error_response(results.BAD_API_KEY, "send the API key as 'Authorization: Bearer <key>'")
        try:
            return json_response(await handler(request, request.app.state.store))
        except ApiError as exc:
            return error_response(exc.code, str(exc))
        except StoreError as exc:
            return error_response(results.COMMIT_FAILED, str(exc))

    return run


async def list_reports(request: Request, store: Store) -> Any:
    p = Params(request, "sid", "mobile", "nationcode", "report_status", "errmsg")
    query = ReportQuery(
        sid=p.text("sid"), mobile=p.text("mobile"), nationcode=p.text("nationcode"),
        report_status=p.text("report_status"), errmsg=p.text("errmsg"), since=p.time("since"),
        until=p.time("until"), limit=p.limit(), before_id=p.cursor(),
    )  # fmt: skip
    return await store.reports(query)


async def list_rejects(request: Request, store: Store) -> Any:
    p = Params(request, "route")
    return await store.rejects(p.list_query(route=p.text("route")))


async def list_replies(request: Request, store: Store) -> Any:
    p = Params(request, "mobile")
    return await store.replies(p.list_query(mobile=p.text("mobile")))


async def list_inbox(request: Request, store: Store) -> Any:
    p = Params(request, "route", "outcome")
    return await store.inbox(p.list_query(route=p.text("route"), outcome=p.text("outcome")))


async def healthz(request: Request) -> Response:
    try:
        await request.app.state.store.ping()
    except StoreError as exc:
        return json_response({"status": "unavailable", "error": str(exc)}, status=503)
    return json_response({"status": "ok"})


async def metrics(request: Request) -> Response:
    """Prometheus text: what the store has counted, and the writer's group-commit figures."""
    try:
        counters = await request.app.state.store.counters()
    except StoreError as exc:
        return error_response(results.COMMIT_FAILED, str(exc))
    writer = request.app.state.writer
    lines = []
    for name, help_text, value in (
        ("delivrd_inbox_total", "Request bodies kept in the inbox.", counters.get("inbox", 0)),
        ("delivrd_reports_total", "Distinct status reports stored.", counters.get("reports", 0)),
        ("delivrd_report_duplicates_total", "Status reports received again and recognised.",
         counters.get("report_duplicates", 0)),
        ("delivrd_replies_total", "Distinct reply (MO) messages stored.", counters.get("replies", 0)),
        ("delivrd_reply_duplicates_total", "Replies received again and recognised.",
         counters.get("reply_duplicates", 0)),
        ("delivrd_rejects_total", "Items or bodies quarantined.", counters.get("rejects", 0)),
        ("delivrd_commits_total", "Group commits by this process.", writer.commits),
        ("delivrd_committed_pushes_total", "Requests committed by this process.", writer.committed_pushes),
    ):  # fmt: skip
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {value}"]
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def routes(api_key: str | None) -> list[Route]:
    return [
        Route("/v1/reports", endpoint(list_reports, api_key)),
        Route("/v1/rejects", endpoint(list_rejects, api_key)),
        Route("/v1/replies", endpoint(list_replies, api_key)),
        Route("/v1/inbox", endpoint(list_inbox, api_key)),
        Route("/healthz", healthz),
        Route("/metrics", metrics),
    ]
