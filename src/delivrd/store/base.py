"""The storage interface, split by who uses it (Committer, Reader, Insight, Admin, Erasure), and the values it takes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, Protocol, TypeVar

from delivrd.domain.push import Push

Row = TypeVar("Row")


class StoreError(Exception):
    """Storage could not do what was asked (the caller answers 503, never 500)."""


class StoreUnavailable(StoreError):
    """Storage as a whole cannot commit now (locked, unreachable, full, read-only): any push would fail
    alike, so the writer refuses its group at once instead of looking for a push at fault."""


@dataclass(frozen=True, slots=True)
class ReportQuery:
    sid: str | None = None
    mobile: str | None = None
    nationcode: str | None = None
    report_status: str | None = None
    errmsg: str | None = None
    since: int | None = None  # microseconds, inclusive
    until: int | None = None  # microseconds, exclusive
    limit: int = 100
    before_id: int | None = None  # keyset cursor: only ids below this


@dataclass(frozen=True, slots=True)
class ListQuery:
    """Filters shared by the rejects, replies and inbox listings."""

    route: str | None = None
    outcome: str | None = None
    mobile: str | None = None
    since: int | None = None
    until: int | None = None
    limit: int = 100
    before_id: int | None = None


@dataclass(frozen=True, slots=True)
class Send:
    """One number of one SendSms call, as the business registers it (POST /v1/messages, import).

    Receipts match a send on (sid, mobile). `sid` is Tencent's SerialNo, the callback's
    `sid`; it is None when Tencent refused the number at send time (`code` is then not
    "Ok" and no receipt will ever come).
    """

    phone: str  # E.164, as SendStatus.PhoneNumber: "+8613800138000"
    nationcode: str  # its country calling code, "86": what the callback's `nationcode` holds
    mobile: str  # the rest of the digits, "13800138000": what the callback's `mobile` holds
    sent_at: int  # microseconds since the epoch, UTC
    sid: str | None = None
    template_id: str | None = None
    sign_name: str | None = None
    fee: int | None = None
    session_context: str | None = None
    code: str | None = None  # SendStatus.Code: "Ok" when Tencent accepted the number
    message: str | None = None
    iso_code: str | None = None


@dataclass(frozen=True, slots=True)
class SendQuery:
    """Registered sends of one sid, or of one number (nationcode and mobile), newest first."""

    sid: str | None = None
    nationcode: str | None = None
    mobile: str | None = None
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """Messages in a time range, and the moment that separates `pending` from `no_receipt`.

    A message is a registered send (its time: `sent_at`) or, for receipts with no
    registered send, one (sid, mobile) pair (its time: when delivrd received its first
    receipt). `since` is inclusive, `until` exclusive, both microseconds.
    """

    since: int | None = None
    until: int | None = None
    #: sends with no receipt sent at or after this (µs) are `pending`; older ones `no_receipt`
    pending_after: int = 0


#: Group keys the store computes; `errmsg` and `category` are derived from `StatsRow.code`.
STORE_GROUPS = ("day", "hour", "nationcode", "template", "sign")


@dataclass(frozen=True, slots=True)
class StatsQuery(MessageQuery):
    """MessageQuery plus what to group by: None or one of STORE_GROUPS.

    day_offset: µs the zone the days are counted in is ahead of UTC (days start at local midnight)."""

    by: str | None = None
    day_offset: int = 0


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One message and its state, as `messages` and (counted) `stats` see it.

    state and code: by the rules of `domain.message_state`. latency_s: `user_receive_ts`
    minus `sent_at` in whole seconds (sent_at truncated to the second, as Tencent's receipt
    time has one-second resolution), only when delivered, the send is registered and the
    receipt time was readable.
    """

    sid: str | None
    nationcode: str | None
    mobile: str
    template_id: str | None
    sign_name: str | None
    sent_at: int | None  # µs; None when no send is registered
    first_report_at: int | None  # µs: when delivrd received its first receipt
    receipts: int  # distinct receipts stored for it
    state: str
    code: str | None
    user_receive_ts: int | None  # Unix seconds of the earliest SUCCESS receipt
    latency_s: int | None


@dataclass(frozen=True, slots=True)
class StatsRow:
    """One cell of the statistics: how many messages share (key, state, code, latency_s).

    key: for `hour` the start of the UTC hour in microseconds, for `day` the local midnight (in the zone
    `day_offset` names) on a naive clock, i.e. UTC microseconds as if the zone were UTC; for
    `nationcode`, `template`, `sign` the text (None when unknown); None when not grouped.
    Counts add up (a row may be negative: a correction of another); latency_s is the bucket
    (`domain.latency.bucket`), so percentiles read off it are within the bucket error.
    """

    key: int | str | None
    state: str
    code: str | None
    latency_s: int | None
    count: int


# -- what the reads return: the stored values, times as integers; the read API formats them --------------------


class ReportRow(NamedTuple):
    """A stored status report: Tencent's fields as received, and what delivrd derived and counted."""

    id: int
    sid: str
    nationcode: str | None
    mobile: str
    report_status: str
    errmsg: str | None
    description: str | None
    user_receive_time: str | None
    ext: str | None
    extra: str | None  # unknown fields, as JSON text
    phone: str | None
    received_at: int  # µs since the epoch
    user_receive_ts: int | None  # Unix seconds, when user_receive_time was readable
    duplicates: int


class ReplyRow(NamedTuple):
    """A stored reply (MO) SMS."""

    id: int
    extend: str | None
    mobile: str
    nationcode: str | None
    sign: str | None
    text: str | None
    time: int | None  # Unix seconds
    extra: str | None  # JSON text
    phone: str | None
    received_at: int  # µs
    duplicates: int


class RejectRow(NamedTuple):
    """A quarantined item (or whole body), with why."""

    id: int
    inbox_id: int
    route: str
    item_index: int | None
    reason: str
    raw: str | None
    received_at: int  # µs


class InboxRow(NamedTuple):
    """One request body that reached a callback route, as received (bytes), and what came of it."""

    id: int
    route: str
    peer: str | None
    status: int
    outcome: str
    items: int
    rejected: int
    size: int
    body: bytes | None
    received_at: int  # µs


class SendRow(NamedTuple):
    """A registered send."""

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
    sent_at: int  # µs
    registered_at: int  # µs


# -- forwarding (delivrd.forward): events, endpoints, and what became of each attempt -------------------------


class EventRow(NamedTuple):
    """One event: what happened (`type`), what it is about (`ref`: a reports, replies or messages id), when (µs).

    (xid, seq) is its position: PostgreSQL's transaction id and the sequence number (xid is 0 on SQLite)."""

    seq: int
    xid: int
    type: str
    ref: int
    at: int


class EndpointRow(NamedTuple):
    """Where events go, what it wants, and how sending to it goes (the totals count since it was added)."""

    id: str
    url: str
    events: str  # JSON array of event types
    filters: str | None  # JSON object: report_status, nationcode, category, template
    secret: str
    batch: bool
    created_at: int  # µs
    state: str  # active | disabled
    state_reason: str | None
    cursor_xid: int
    cursor_seq: int
    delivered: int
    failed_attempts: int
    failed_events: int
    last_error: str | None
    last_error_at: int | None
    last_success_at: int | None
    failing_since: int | None


class RetryRow(NamedTuple):
    """An event of one endpoint waiting for another attempt (next_at), or failed for good (next_at None)."""

    seq: int
    xid: int
    type: str
    ref: int
    at: int
    attempts: int
    next_at: int | None
    last_error: str | None


class Backlog(NamedTuple):
    """What an endpoint has not yet had: events past its cursor, retries waiting, events failed for good, and
    the time of the oldest event still to go (µs; None when nothing waits)."""

    waiting: int
    retrying: int
    failed: int
    oldest_at: int | None

    def lag_seconds(self, now: int) -> float:
        """How old the oldest event still to go is at `now` (µs), in seconds; 0 when nothing waits."""
        return 0.0 if self.oldest_at is None else max(0.0, (now - self.oldest_at) / 1e6)


@dataclass(frozen=True, slots=True)
class EventSources:
    """The rows events are about, by id: what their bodies are built from (a row gone since, by retention or
    erasure, is absent: its event is dropped)."""

    reports: dict[int, ReportRow]
    replies: dict[int, ReplyRow]
    sends: dict[int, SendRow]  # by the message id a message.no_receipt event names
    optouts: dict[int, OptOutRow]  # opt-out changes


@dataclass(frozen=True, slots=True)
class Round:
    """What one round of sending to an endpoint did, committed at once with the lease checked."""

    at: int  # µs, when the round ended
    cursor: tuple[int, int] | None = None  # the new (xid, seq), when new events were handed over
    delivered: int = 0  # events delivered (new and retried)
    done: tuple[int, ...] = ()  # retried seqs now settled (delivered, filtered out, source gone)
    failed: tuple[tuple[int, int, int | None, str], ...] = ()  # (seq, attempts, next_at or None, error)
    failed_attempts: int = 0
    failed_for_good: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    """Rows newest first; `next_before_id` (the last row's id) is the `before_id` of the next page, None at the end."""

    items: list[Row]
    next_before_id: int | None


class Committer(Protocol):
    """What the writer needs."""

    async def write(self, pushes: Sequence[Push]) -> None:
        """Store every push (inbox row, reports or replies, rejects) and commit, or raise StoreError.

        Returning means committed durably: the callback's ack waits for it."""
        ...


class Reader(Protocol):
    """What the read API, the dashboard and `delivrd export` read."""

    async def ping(self) -> None:
        """Return when storage answers; StoreError when it does not (/healthz)."""
        ...

    async def counters(self) -> dict[str, int]: ...

    async def reports(self, query: ReportQuery) -> Page[ReportRow]: ...

    async def replies(self, query: ListQuery) -> Page[ReplyRow]: ...

    async def rejects(self, query: ListQuery) -> Page[RejectRow]: ...

    async def inbox(self, query: ListQuery) -> Page[InboxRow]: ...

    async def sends(self, query: SendQuery) -> list[SendRow]:
        """Registered sends matching every filter given, newest `sent_at` first."""
        ...


class Insight(Protocol):
    """Sends, message state and statistics (docs/answering-questions.md)."""

    async def register_sends(self, sends: Sequence[Send]) -> int:
        """Store sends in one transaction; one already registered (same sid and mobile, or for a
        refused number the same mobile and sent_at) is left as it was. Returns how many were new."""
        ...

    def messages(self, query: MessageQuery) -> AsyncIterator[list[MessageRow]]:
        """Every message in the range, in chunks (an async generator: memory stays bounded)."""
        ...

    async def stats(self, query: StatsQuery) -> list[StatsRow]:
        """The messages of `query` counted by (key, state, code, latency_s), in SQL."""
        ...


class Admin(Protocol):
    """The life cycle, the schema and upkeep: `serve` and `delivrd db`."""

    #: which migrations folder (`store/migrations/<dialect>/`) this backend uses
    dialect: str

    async def open(self) -> None:
        """Connect, and create or migrate the schema as `migrations.prepare` allows; StoreError if not."""
        ...

    async def close(self) -> None: ...

    async def schema_version(self) -> int:
        """The database's schema version (0: no delivrd schema yet); works without `open`."""
        ...

    async def prune(self, before: int) -> dict[str, int]:
        """Remove what was received before `before` (microseconds), a little at a time (retention); returns how
        many rows went, by table: reports, replies, rejects, inbox, sends, messages, events."""
        ...

    async def maintain(self) -> None:
        """Periodic upkeep while serving (PostgreSQL creates the coming days' partitions); nothing by default."""
        return None


class Forwarding(Protocol):
    """Events, endpoints and delivery state (delivrd.forward): kept in the database, so every process shares them."""

    async def add_endpoint(self, endpoint: EndpointRow) -> EndpointRow:
        """Keep `endpoint`, its cursor set to the current end of the events (it gets what happens from now on)."""
        ...

    async def endpoints(self) -> list[EndpointRow]: ...

    async def endpoint(self, endpoint_id: str) -> EndpointRow | None: ...

    async def remove_endpoint(self, endpoint_id: str) -> bool: ...

    async def set_endpoint_state(self, endpoint_id: str, state: str, reason: str | None) -> bool: ...

    async def lease_endpoint(self, endpoint_id: str, owner: str, now: int, until: int) -> bool:
        """Take or renew the right to send `endpoint_id`'s events until `until` (µs), if no other owner holds
        it past `now` and the endpoint is active."""
        ...

    async def release_endpoint(self, endpoint_id: str, owner: str) -> None: ...

    async def events_after(self, xid: int, seq: int, limit: int) -> list[EventRow]:
        """Events past position (xid, seq), in order; never one that a later read could find behind it."""
        ...

    async def events_end(self) -> tuple[int, int]:
        """The position of the last event: where a new endpoint or a live feed without a position starts."""
        ...

    async def event_sources(self, events: Sequence[EventRow]) -> EventSources: ...

    async def templates(self, report_ids: Sequence[int]) -> dict[int, str | None]:
        """The template of each report's registered send, by report id (for an endpoint's `template` filter)."""
        ...

    async def retries(self, endpoint_id: str, due_by: int | None, limit: int) -> list[RetryRow]:
        """Events waiting for another attempt, oldest first: those due by `due_by` (µs), or with None all of
        them (a probe of an endpoint that is down tries the oldest)."""
        ...

    async def failures(self, endpoint_id: str, limit: int) -> list[RetryRow]:
        """Events failed for good, newest first."""
        ...

    async def record_round(self, endpoint_id: str, owner: str, done: Round) -> bool:
        """Commit a round's outcome if `owner` still holds the lease; False (nothing written) if not."""
        ...

    async def retry_now(self, endpoint_id: str, now: int) -> int:
        """Make every waiting retry due at `now` (the endpoint is back); how many."""
        ...

    async def replay(self, endpoint_id: str, since: int, until: int, now: int) -> int:
        """Queue again every event that happened in [since, until) for `endpoint_id`, due now; how many."""
        ...

    async def backlog(self, endpoint: EndpointRow) -> Backlog:
        """What `endpoint` (as just read: its position) has not yet had."""
        ...

    async def emit_no_receipt(self, deadline: int, wait: int) -> int:
        """Add a message.no_receipt event for each registered, accepted send whose receipt has not come `wait`
        µs after it was sent, for sends up to `deadline` - `wait` not yet scanned; how many were added."""
        ...


@dataclass(frozen=True, slots=True)
class OptOutChange:
    """A change to the opt-out list as asked for (a reply's keyword, by hand, an import); stored only when it
    changes the number's status (`domain.unsubscribe` names the actions and sources)."""

    phone: str  # E.164
    nationcode: str
    mobile: str
    action: str  # added | removed
    source: str  # reply | manual | import
    at: int  # µs: when it happened (the reply's received_at, or now)
    sign: str | None = None
    extend: str | None = None
    reply_id: int | None = None
    note: str | None = None  # a person's note; for a reply, its text as received


class OptOutRow(NamedTuple):
    """A stored change to the opt-out list; `id` increases in commit order (what forwarding follows)."""

    id: int
    phone: str
    nationcode: str
    mobile: str
    action: str
    source: str
    sign: str | None
    extend: str | None
    reply_id: int | None
    note: str | None
    at: int  # µs


@dataclass(frozen=True, slots=True)
class OptOutQuery:
    """Filters of the opt-out list (or its history); `since`/`until` apply to the change's `at`."""

    phone: str | None = None
    source: str | None = None
    sign: str | None = None
    extend: str | None = None
    action: str | None = None
    since: int | None = None
    until: int | None = None
    limit: int = 100
    before_id: int | None = None


class OptOuts(Protocol):
    """The opt-out list (docs/replies-and-unsubscribes.md): an append-only history of changes, and the numbers
    currently on the list (the latest change of each number being `added`)."""

    async def apply_replies(self, classify: Callable[[str | None], str | None], limit: int = 500) -> int:
        """Turn up to `limit` replies not yet looked at into changes (`classify`: text → action or None), and mark
        them looked at, in one transaction; returns how many replies were looked at."""
        ...

    async def change_optouts(self, changes: Sequence[OptOutChange]) -> list[OptOutRow | None]:
        """Apply `changes` in order in one transaction; for each, the stored change, or None when it changed
        nothing (the number was already on, or already off, the list)."""
        ...

    async def optouts(self, query: OptOutQuery) -> Page[OptOutRow]:
        """The numbers on the list now, each as the change that put it there, newest first."""
        ...

    async def optout_changes(self, query: OptOutQuery) -> Page[OptOutRow]:
        """Every change, newest first."""
        ...


class Erasure(Protocol):
    """Personal data (docs/personal-data.md): one number erased everywhere it is kept, and raw bodies' shorter life."""

    async def purge_phone(self, nationcode: str, mobile: str) -> dict[str, int]:
        """Erase the number (`domain.erasure.forms`) and commit: its reports (with their index rows), replies and
        sends deleted; its messages kept with the number replaced (`domain.erasure.ERASED_MOBILE`), so every count
        stays; its digits masked inside rejects' text and inbox bodies. Returns how many rows, by table."""
        ...

    async def drop_inbox_bodies(self, before: int) -> int:
        """Set to NULL the bodies of inbox rows received before `before` (µs), a little at a time; the rows stay.
        Returns how many bodies were dropped."""
        ...


class Store(Committer, Reader, Insight, Admin, Forwarding, OptOuts, Erasure, Protocol):
    """All of it, as `open_store` returns it; a caller names the narrowest part it uses."""
