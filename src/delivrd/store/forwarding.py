"""The forwarding side every SQL backend shares: endpoints, events past a position, rounds of attempts.

Written once with `?` placeholders, as `reads`; a backend supplies `_rows` (one SELECT), `_transact` (steps in
one write transaction) and `_after` (how a position is compared: PostgreSQL must not read past the oldest
transaction still running, see its migration 0004).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from delivrd.store import columns, optout_sql
from delivrd.store.base import (
    Backlog,
    EndpointRow,
    EventRow,
    EventSources,
    OptOutRow,
    ReplyRow,
    ReportRow,
    RetryRow,
    Round,
    SendRow,
)
from delivrd.store.reads import ReportSource

T = TypeVar("T")
ENDPOINT_COLUMNS = ", ".join(EndpointRow._fields)
SELECT_ENDPOINTS = f"SELECT {ENDPOINT_COLUMNS} FROM endpoints"
#: rows named in one IN (...) list
CHUNK = 500
NO_RECEIPT = "no_receipt"


class GuardFailed(Exception):
    """A guarded step changed no row: a backend's `_transact` rolls back and returns None."""


@dataclass(frozen=True, slots=True)
class Step:
    """One statement of a write transaction. `many`: `args` is a list of rows. `guard`: if it changes no row, the
    whole transaction is rolled back and `_transact` returns None (a lease lost, an endpoint gone)."""

    sql: str
    args: Sequence[Any] = ()
    many: bool = False
    guard: bool = False


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _chunks(items: Sequence[T]) -> list[Sequence[T]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


class SQLForwarding(abc.ABC):
    """Forwarding's state for a backend that runs SQL."""

    #: the event's xid as a number, its table qualified by {q} (PostgreSQL's xid8 as bigint; 0 on SQLite)
    xid_column: str
    #: where reports come from, as the read side has it (`SQLReads.reports_from`)
    reports_from: ReportSource

    def _event_columns(self, q: str = "") -> str:
        """The columns of EventRow, qualified by `q` ("e.")."""
        return f"{q}seq, {self.xid_column.format(q=q)}, {q}type, {q}ref, {q}at"

    @abc.abstractmethod
    async def _rows(self, sql: str, args: Sequence[Any]) -> Sequence[Sequence[Any]]: ...

    @abc.abstractmethod
    async def _transact(self, steps: Sequence[Step]) -> list[int] | None:
        """Run `steps` in one write transaction; the rows each changed, or None when a guard changed none."""

    @abc.abstractmethod
    async def _after(self, xid: int, seq: int) -> tuple[str, list[Any], str]:
        """The WHERE term for events past (xid, seq) that a later read cannot find behind, its arguments, and the
        ORDER BY that walks them in position order."""

    # -- endpoints -----------------------------------------------------------------------------

    async def add_endpoint(self, endpoint: EndpointRow) -> EndpointRow:
        xid, seq = await self.events_end()
        row = endpoint._replace(cursor_xid=xid, cursor_seq=seq)
        await self._transact([Step(f"INSERT INTO endpoints ({ENDPOINT_COLUMNS}) VALUES ({_marks(len(row))})", row)])
        return row

    async def endpoints(self) -> list[EndpointRow]:
        return [self._endpoint(r) for r in await self._rows(SELECT_ENDPOINTS + " ORDER BY created_at, id", ())]

    async def endpoint(self, endpoint_id: str) -> EndpointRow | None:
        found = await self._rows(SELECT_ENDPOINTS + " WHERE id = ?", (endpoint_id,))
        return self._endpoint(found[0]) if found else None

    @staticmethod
    def _endpoint(r: Sequence[Any]) -> EndpointRow:
        row = EndpointRow(*r)
        return row._replace(batch=bool(row.batch))

    async def remove_endpoint(self, endpoint_id: str) -> bool:
        done = await self._transact(
            [
                Step("DELETE FROM endpoints WHERE id = ?", (endpoint_id,), guard=True),
                Step("DELETE FROM deliveries WHERE endpoint_id = ?", (endpoint_id,)),
            ]
        )
        return done is not None

    async def set_endpoint_state(self, endpoint_id: str, state: str, reason: str | None) -> bool:
        # enabling again starts afresh: an endpoint disabled for failing is not failing until it fails again
        sql = (
            "UPDATE endpoints SET state = ?, state_reason = ?,"
            " failing_since = CASE WHEN ? = 'active' THEN NULL ELSE failing_since END WHERE id = ?"
        )
        return await self._transact([Step(sql, (state, reason, state, endpoint_id), guard=True)]) is not None

    async def lease_endpoint(self, endpoint_id: str, owner: str, now: int, until: int) -> bool:
        sql = (
            "UPDATE endpoints SET lease_owner = ?, lease_until = ? WHERE id = ? AND state = 'active'"
            " AND (lease_owner = ? OR lease_owner IS NULL OR lease_until < ?)"
        )
        return await self._transact([Step(sql, (owner, until, endpoint_id, owner, now), guard=True)]) is not None

    async def release_endpoint(self, endpoint_id: str, owner: str) -> None:
        sql = "UPDATE endpoints SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?"
        await self._transact([Step(sql, (endpoint_id, owner))])

    # -- events ------------------------------------------------------------------------------------

    async def events_after(self, xid: int, seq: int, limit: int) -> list[EventRow]:
        where, args, order = await self._after(xid, seq)
        sql = f"SELECT {self._event_columns()} FROM events WHERE {where} ORDER BY {order} LIMIT ?"
        return [EventRow(*r) for r in await self._rows(sql, [*args, limit])]

    async def events_end(self) -> tuple[int, int]:
        where, args, order = await self._after(0, 0)
        descending = ", ".join(f"{term} DESC" for term in order.split(", "))
        sql = f"SELECT {self._event_columns()} FROM events WHERE {where} ORDER BY {descending} LIMIT 1"
        found = await self._rows(sql, args)
        return (found[0][1], found[0][0]) if found else (0, 0)

    async def event_sources(self, events: Sequence[EventRow]) -> EventSources:
        reports: dict[int, ReportRow] = {}
        replies: dict[int, ReplyRow] = {}
        sends: dict[int, SendRow] = {}
        optouts: dict[int, OptOutRow] = {}
        wanted: dict[str, list[EventRow]] = {"report": [], "reply": [], "message": [], "optout": []}
        for event in events:  # by what they name; a type this delivrd does not know names nothing it reads
            wanted.get(event.type.split(".")[0], []).append(event)
        p = self.reports_from.prefix
        for part in _chunks(wanted["report"]):
            # the time bounds let PostgreSQL look only in the partitions of those days
            sql = (
                f"{self.reports_from.select} WHERE {p}id IN ({_marks(len(part))})"
                f" AND {p}received_at >= ? AND {p}received_at <= ?"
            )
            args = [*(e.ref for e in part), min(e.at for e in part), max(e.at for e in part)]
            reports.update((r[0], ReportRow(*r)) for r in await self._rows(sql, args))
        for part in _chunks(wanted["reply"]):
            sql = f"SELECT {columns.REPLIES.select()} FROM replies WHERE id IN ({_marks(len(part))})"
            replies.update((r[0], ReplyRow(*r)) for r in await self._rows(sql, [e.ref for e in part]))
        for part in _chunks(wanted["message"]):
            sql = (
                f"SELECT m.id, {columns.SENDS.select('s.')} FROM messages m"
                f" JOIN sends s ON s.sid = m.sid AND s.mobile = m.mobile WHERE m.id IN ({_marks(len(part))})"
            )
            sends.update((r[0], SendRow(*r[1:])) for r in await self._rows(sql, [e.ref for e in part]))
        for part in _chunks(wanted["optout"]):
            sql = f"{optout_sql.SELECT_CHANGES} WHERE id IN ({_marks(len(part))})"
            optouts.update((r[0], OptOutRow(*r)) for r in await self._rows(sql, [e.ref for e in part]))
        return EventSources(reports, replies, sends, optouts)

    async def templates(self, report_ids: Sequence[int]) -> dict[int, str | None]:
        """The template of each report's registered send (a `template` filter asks), by report id."""
        found: dict[int, str | None] = {}
        p = self.reports_from.prefix
        for part in _chunks(report_ids):
            sql = (
                f"SELECT {p}id, m.template_id FROM reports {p.rstrip('.')}"
                f" JOIN messages m ON m.sid = {p}sid AND m.mobile = {p}mobile WHERE {p}id IN ({_marks(len(part))})"
            )
            found.update((r[0], r[1]) for r in await self._rows(sql, list(part)))
        return found

    # -- attempts ----------------------------------------------------------------------------------

    async def retries(self, endpoint_id: str, due_by: int | None, limit: int) -> list[RetryRow]:
        due = "" if due_by is None else " AND d.next_at <= ?"
        sql = (
            f"SELECT {self._event_columns('e.')}, d.attempts, d.next_at, d.last_error"
            " FROM deliveries d JOIN events e ON e.seq = d.seq"
            f" WHERE d.endpoint_id = ? AND d.next_at IS NOT NULL{due} ORDER BY d.next_at, d.seq LIMIT ?"
        )
        args = [endpoint_id, *([] if due_by is None else [due_by]), limit]
        return [RetryRow(*r) for r in await self._rows(sql, args)]

    async def failures(self, endpoint_id: str, limit: int) -> list[RetryRow]:
        sql = (
            f"SELECT {self._event_columns('e.')}, d.attempts, d.next_at, d.last_error"
            " FROM deliveries d JOIN events e ON e.seq = d.seq"
            " WHERE d.endpoint_id = ? AND d.next_at IS NULL ORDER BY d.seq DESC LIMIT ?"
        )
        return [RetryRow(*r) for r in await self._rows(sql, [endpoint_id, limit])]

    async def record_round(self, endpoint_id: str, owner: str, done: Round) -> bool:
        succeeded = 1 if done.delivered else 0
        failed = 1 if done.failed_attempts else 0
        xid, seq = done.cursor if done.cursor is not None else (None, None)
        totals = (
            "UPDATE endpoints SET delivered = delivered + ?, failed_attempts = failed_attempts + ?,"
            " failed_events = failed_events + ?, cursor_xid = coalesce(?, cursor_xid),"
            " cursor_seq = coalesce(?, cursor_seq), last_error = coalesce(?, last_error),"
            " last_error_at = CASE WHEN ? = 1 THEN ? ELSE last_error_at END,"
            " last_success_at = CASE WHEN ? = 1 THEN ? ELSE last_success_at END,"
            " failing_since = CASE WHEN ? = 1 THEN NULL WHEN ? = 1 THEN coalesce(failing_since, ?)"
            " ELSE failing_since END"
            " WHERE id = ? AND lease_owner = ?"
        )
        steps = [
            Step(
                totals,
                (
                    done.delivered,
                    done.failed_attempts,
                    done.failed_for_good,
                    xid,
                    seq,
                    done.last_error,
                    failed,
                    done.at,
                    succeeded,
                    done.at,
                    succeeded,
                    failed,
                    done.at,
                    endpoint_id,
                    owner,
                ),
                guard=True,
            )
        ]
        if done.done:
            steps.append(
                Step(
                    "DELETE FROM deliveries WHERE endpoint_id = ? AND seq = ?",
                    [(endpoint_id, s) for s in done.done],
                    many=True,
                )
            )
        if done.failed:
            steps.append(
                Step(
                    "INSERT INTO deliveries (endpoint_id, seq, attempts, next_at, last_error) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (endpoint_id, seq) DO UPDATE SET attempts = excluded.attempts,"
                    " next_at = excluded.next_at, last_error = excluded.last_error",
                    [(endpoint_id, *f) for f in done.failed],
                    many=True,
                )
            )
        return await self._transact(steps) is not None

    async def retry_now(self, endpoint_id: str, now: int) -> int:
        sql = "UPDATE deliveries SET next_at = ? WHERE endpoint_id = ? AND next_at > ?"
        done = await self._transact([Step(sql, (now, endpoint_id, now))])
        return done[0] if done else 0

    async def replay(self, endpoint_id: str, since: int, until: int, now: int) -> int:
        sql = (
            "INSERT INTO deliveries (endpoint_id, seq, attempts, next_at)"
            " SELECT ?, seq, 0, ? FROM events WHERE at >= ? AND at < ?"
            " ON CONFLICT (endpoint_id, seq) DO UPDATE SET next_at = excluded.next_at"
        )
        done = await self._transact(
            [
                Step("UPDATE endpoints SET id = id WHERE id = ?", (endpoint_id,), guard=True),
                Step(sql, (endpoint_id, now, since, until)),
            ]
        )
        return done[1] if done else 0

    async def backlog(self, endpoint: EndpointRow) -> Backlog:
        where, args, _ = await self._after(endpoint.cursor_xid, endpoint.cursor_seq)
        waiting = await self._rows(f"SELECT count(*), min(at) FROM events WHERE {where}", args)
        queued = await self._rows(
            "SELECT count(d.next_at), count(*) - count(d.next_at), min(CASE WHEN d.next_at IS NOT NULL THEN e.at END)"
            " FROM deliveries d JOIN events e ON e.seq = d.seq WHERE d.endpoint_id = ?",
            (endpoint.id,),
        )
        oldest = [t for t in (waiting[0][1], queued[0][2]) if t is not None]
        return Backlog(waiting[0][0], queued[0][0], queued[0][1], min(oldest) if oldest else None)

    # -- message.no_receipt -----------------------------------------------------------------------

    async def emit_no_receipt(self, deadline: int, wait: int) -> int:
        upto = deadline - wait
        # the first scan starts now: sends older than the first deadline are history, not news
        start = Step(
            "INSERT INTO forward_marks (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (NO_RECEIPT, upto)
        )
        # taking the mark's row first makes a second process's scan wait for this one, then find nothing new
        lock = Step("UPDATE forward_marks SET value = value WHERE name = ?", (NO_RECEIPT,))
        # messages.at is sent_at for a registered send: a range of the messages_at index
        add = Step(
            "INSERT INTO events (type, ref, at)"
            " SELECT 'message.no_receipt', m.id, m.sent_at + ? FROM messages m, forward_marks f"
            " WHERE f.name = ? AND m.at >= f.value AND m.at < ?"
            " AND m.sent_at IS NOT NULL AND m.sid IS NOT NULL AND m.send_code = 'Ok' AND m.receipts = 0"
            " ORDER BY m.at, m.id",
            (wait, NO_RECEIPT, upto),
        )
        advance = Step("UPDATE forward_marks SET value = ? WHERE name = ? AND value < ?", (upto, NO_RECEIPT, upto))
        done = await self._transact([start, lock, add, advance])
        return done[2] if done else 0

    async def prune_events(self, before: int) -> int:
        """Events (and their deliveries) that happened before `before`, a batch at a time: part of retention."""
        removed = 0
        while True:
            done = await self._transact(
                [
                    Step(
                        "DELETE FROM deliveries WHERE seq IN"
                        " (SELECT seq FROM events WHERE at < ? ORDER BY seq LIMIT 1000)",
                        (before,),
                    ),
                    Step(
                        "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE at < ? ORDER BY seq LIMIT 1000)",
                        (before,),
                    ),
                ]
            )
            batch = done[1] if done else 0
            removed += batch
            if batch < 1000:
                return removed
