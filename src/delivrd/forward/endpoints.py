"""Endpoints as users see them: what `POST /v1/endpoints` and `delivrd endpoints add` take, what they show.

One home for the rules (URL and secret checked, event types known, filters well formed), shared by the API
and the command line, which both keep endpoints through the store."""

from __future__ import annotations

import secrets as random_tokens

import msgspec

from delivrd.domain import clock
from delivrd.forward import event, sinks
from delivrd.forward.bodies import event_id
from delivrd.forward.filters import Filters
from delivrd.forward.secrets import check_secret, generate_secret
from delivrd.query.models import iso_utc
from delivrd.store.base import Backlog, EndpointRow, RetryRow

ACTIVE, DISABLED = "active", "disabled"


class BadEndpoint(ValueError):
    """An endpoint definition the caller must fix (400 in the API, exit 2 on the command line)."""


class NewEndpoint(msgspec.Struct, forbid_unknown_fields=True):
    """An endpoint to add. `events` defaults to every type; `secret` (whsec_…) is generated when absent."""

    url: str
    events: list[str] = msgspec.field(default_factory=lambda: list(event.TYPES))
    secret: str | None = None
    batch: bool = False
    filters: Filters | None = None


class Lag(msgspec.Struct):
    """What the endpoint has not yet had: events past its cursor, retries waiting, events failed for good, and
    how old the oldest one still to go is (seconds; 0 when nothing waits)."""

    events: int
    retrying: int
    failed: int
    seconds: float


class EndpointView(msgspec.Struct):
    id: str
    url: str
    events: list[str]
    filters: Filters | None
    batch: bool
    secret: str
    state: str  # active | disabled
    state_reason: str | None
    created_at: str
    delivered: int
    failed_attempts: int
    failed_events: int
    last_error: str | None
    last_error_at: str | None
    last_success_at: str | None
    failing_since: str | None
    next_attempt: str | None  # the earliest retry due, when any waits
    lag: Lag


class FailedEvent(msgspec.Struct):
    """An event failed for good on this endpoint: a replay over its time sends it again."""

    id: str
    type: str
    timestamp: str
    attempts: int
    last_error: str | None


def decode(body: bytes) -> NewEndpoint:
    try:
        return msgspec.json.decode(body, type=NewEndpoint)
    except msgspec.DecodeError as exc:
        raise BadEndpoint(f"the body is not an endpoint: {exc}") from None


def new_row(spec: NewEndpoint) -> EndpointRow:
    """The row to keep for `spec`, everything checked; BadEndpoint says what is wrong."""
    unknown = sorted(set(spec.events) - set(event.TYPES))
    if unknown or not spec.events:
        raise BadEndpoint(
            f"events must name at least one of {', '.join(event.TYPES)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    try:
        url = sinks.check_url(spec.url)
        secret = generate_secret() if spec.secret is None else check_secret(spec.secret)
    except ValueError as exc:
        raise BadEndpoint(str(exc)) from None
    events = [t for t in event.TYPES if t in spec.events]
    return EndpointRow(
        id=f"ep_{random_tokens.token_hex(8)}",
        url=url,
        events=msgspec.json.encode(events).decode(),
        filters=None if spec.filters is None else msgspec.json.encode(spec.filters).decode(),
        secret=secret,
        batch=spec.batch,
        created_at=clock.now_micros(),
        state=ACTIVE,
        state_reason=None,
        cursor_xid=0,
        cursor_seq=0,
        delivered=0,
        failed_attempts=0,
        failed_events=0,
        last_error=None,
        last_error_at=None,
        last_success_at=None,
        failing_since=None,
    )


def _iso(micros: int | None) -> str | None:
    return None if micros is None else iso_utc(micros)


def view(row: EndpointRow, backlog: Backlog, next_retry: RetryRow | None) -> EndpointView:
    now = clock.now_micros()
    return EndpointView(
        id=row.id,
        url=row.url,
        events=msgspec.json.decode(row.events, type=list[str]),
        filters=None if row.filters is None else msgspec.json.decode(row.filters, type=Filters),
        batch=row.batch,
        secret=row.secret,
        state=row.state,
        state_reason=row.state_reason,
        created_at=iso_utc(row.created_at),
        delivered=row.delivered,
        failed_attempts=row.failed_attempts,
        failed_events=row.failed_events,
        last_error=row.last_error,
        last_error_at=_iso(row.last_error_at),
        last_success_at=_iso(row.last_success_at),
        failing_since=_iso(row.failing_since),
        next_attempt=None if next_retry is None else _iso(next_retry.next_at),
        lag=Lag(
            events=backlog.waiting,
            retrying=backlog.retrying,
            failed=backlog.failed,
            seconds=backlog.lag_seconds(now),
        ),
    )


def failed_event(row: RetryRow) -> FailedEvent:
    return FailedEvent(event_id(row.seq), row.type, iso_utc(row.at), row.attempts, row.last_error)
