"""`GET /v1/activity`: is anything arriving? The last callback received, the store's counters and, for a range
of at most a few hours, the messages minute by minute.

The overview needs these at a glance and they cost nothing to read (the newest inbox row
and the counters table), so they are one small route rather than scraped from /metrics.
The statistics count per hour (`/v1/stats`), too coarse for the last hour; the minutes are
counted here from that range's messages, so their cost grows with the messages in the
range, which is why the range is bounded.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.routing import Route

from delivrd.domain import clock, message_state
from delivrd.domain.push import UNAUTHORIZED
from delivrd.query.http import BadParameter, Params, endpoint
from delivrd.query.models import iso_utc
from delivrd.store import Store
from delivrd.store.base import ListQuery, MessageQuery

MINUTE_US = 60 * clock.SECOND_US
#: the longest range counted minute by minute (longer ones: /v1/stats?by=hour)
MAX_MINUTES = 360


class LastCallback(msgspec.Struct, kw_only=True):
    """The newest request body that reached a callback route past its token and allowlist, whatever came of it
    (a request refused for who sent it is not stored: `refused_callbacks` counts those)."""

    received_at: str
    route: str
    status: int
    outcome: str
    items: int
    rejected: int


class Minute(msgspec.Struct, kw_only=True):
    """The messages of one minute (by their time, as in /v1/stats: the send's, else the first receipt's)."""

    key: str
    total: int
    delivered: int
    failed: int
    pending: int
    no_receipt: int
    success_rate: float | None


class Activity(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Counts since the database was created, and the last callback (null before the first); `minutes` only
    when a range (`since`, `until`) is asked for: one per minute that holds messages, oldest first."""

    last_callback: LastCallback | None
    inbox: int
    reports: int
    report_duplicates: int
    replies: int
    rejects: int
    #: callback requests refused for who sent them (no token or a wrong one, a source not allowed) since the
    #: process that answers started; not stored, so not in `last_callback` nor `inbox`
    refused_callbacks: int
    minutes: list[Minute] | None = None


def routes(api_key: str | None, no_receipt_after: int) -> list[Route]:
    async def activity(request: Request, store: Store) -> Any:
        p = Params(request, paged=False)
        minutes = None
        if p.since is not None or p.until is not None:
            minutes = await per_minute(store, *_range(p.since, p.until), no_receipt_after)
        counters = await store.counters()
        # the newest authenticated one: earlier versions stored refused requests too, as `unauthorized` (a
        # few are looked past; a flood of them, left by an earlier version, hides the callbacks before it)
        newest = [e for e in (await store.inbox(ListQuery(limit=20))).items if e.outcome != UNAUTHORIZED]
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
            refused_callbacks=getattr(request.app.state, "refused_callbacks", lambda: 0)(),
            minutes=minutes,
        )

    return [Route("/v1/activity", endpoint(activity, api_key))]


def _range(since: int | None, until: int | None) -> tuple[int, int]:
    if since is None:
        raise BadParameter("until needs since: the minutes counted are those from since to until (default: now)")
    until = clock.now_micros() if until is None else until
    if since >= until:
        raise BadParameter("since must be before until (default: now)")
    if until - since > MAX_MINUTES * MINUTE_US:
        raise BadParameter(
            f"since to until must span at most {MAX_MINUTES} minutes (6 hours) to be counted minute by minute;"
            " longer ranges: /v1/stats?by=hour"
        )
    return since, until


async def per_minute(store: Store, since: int, until: int, no_receipt_after: int) -> list[Minute]:
    """The messages of [since, until) counted per minute and state."""
    pending_after = message_state.pending_after(clock.now_micros(), no_receipt_after)
    counts: dict[int, Counter[str]] = {}
    async for rows in store.messages(MessageQuery(since=since, until=until, pending_after=pending_after)):
        for row in rows:
            at = row.sent_at if row.sent_at is not None else row.first_report_at
            assert at is not None, "a message has a send or a receipt"
            counts.setdefault(at - at % MINUTE_US, Counter())[row.state] += 1
    minutes = []
    for start, states in sorted(counts.items()):
        delivered, failed = states[message_state.DELIVERED], states[message_state.FAILED]
        minutes.append(
            Minute(
                key=iso_utc(start)[:16] + ":00Z",
                total=states.total(),
                delivered=delivered,
                failed=failed,
                pending=states[message_state.PENDING],
                no_receipt=states[message_state.NO_RECEIPT],
                success_rate=message_state.success_rate(delivered, failed),
            )
        )
    return minutes
