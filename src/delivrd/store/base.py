"""The storage interface, split by who uses it (Committer, Reader, Insight, Admin), and the values it takes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
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
        many rows went, by table: reports, replies, rejects, inbox, sends, messages."""
        ...

    async def maintain(self) -> None:
        """Periodic upkeep while serving (PostgreSQL creates the coming days' partitions); nothing by default."""
        return None


class Store(Committer, Reader, Insight, Admin, Protocol):
    """All of it, as `open_store` returns it; a caller names the narrowest part it uses."""
