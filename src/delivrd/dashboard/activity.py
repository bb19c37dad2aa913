"""`GET /v1/activity`: is anything arriving? The last callback received and the store's counters.

The overview needs these at a glance and they cost nothing to read (the newest inbox row
and the counters table), so they are one small route rather than scraped from /metrics.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.routing import Route

from delivrd.query.http import BadParameter, endpoint
from delivrd.query.models import iso_utc
from delivrd.store import Reader
from delivrd.store.base import ListQuery


class LastCallback(msgspec.Struct, kw_only=True):
    """The newest request body that reached a callback route, whatever came of it."""

    received_at: str
    route: str
    status: int
    outcome: str
    items: int
    rejected: int


class Activity(msgspec.Struct, kw_only=True):
    """Counts since the database was created, and the last callback (null before the first)."""

    last_callback: LastCallback | None
    inbox: int
    reports: int
    report_duplicates: int
    replies: int
    rejects: int


async def activity(request: Request, store: Reader) -> Any:
    if request.query_params:  # an unknown parameter is an error, as on every route
        raise BadParameter(f"/v1/activity takes no query parameters; got {', '.join(request.query_params)}")
    counters = await store.counters()
    newest = (await store.inbox(ListQuery(limit=1))).items
    last = None
    if newest:
        entry = newest[0]
        last = LastCallback(
            received_at=iso_utc(entry.received_at),
            route=entry.route,
            status=entry.status,
            outcome=entry.outcome,
            items=entry.items,
            rejected=entry.rejected,
        )
    return Activity(
        last_callback=last,
        inbox=counters.get("inbox", 0),
        reports=counters.get("reports", 0),
        report_duplicates=counters.get("report_duplicates", 0),
        replies=counters.get("replies", 0),
        rejects=counters.get("rejects", 0),
    )


def routes(api_key: str | None) -> list[Route]:
    return [Route("/v1/activity", endpoint(activity, api_key))]
