"""PostgreSQL storage: an asyncpg pool, one transaction per group, idempotency enforced by the database.

Several delivrd processes (workers, machines) can share one database with no other
coordination: each commits its own groups, and the duplicate check is a unique key
(`report_keys`, `replies.dedup_key`) that the database enforces across all of them.
Each group is a handful of round trips however many pushes it holds: rows travel as
arrays and are inserted with `unnest`. inbox and reports are partitioned by day of
`received_at`; partitions are created ahead of time (and on demand), and retention
drops whole days.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from delivrd.domain import clock
from delivrd.domain.clock import DAY_US
from delivrd.domain.push import CALLBACK, Push
from delivrd.store import columns, insight_sql, migrations
from delivrd.store.base import MessageQuery, MessageRow, Send, Store, StoreError, StoreUnavailable
from delivrd.store.columns import Column, Numbers
from delivrd.store.postgres import retention as postgres_retention
from delivrd.store.reads import ReportSource, SQLReads

log = logging.getLogger("delivrd.store.postgres.store")

PARTITIONED = ("inbox", "reports")
DAYS_AHEAD = 3
# How long to wait for PostgreSQL. Without limits, a server that stops answering (a dropped network, a hung
# host: packets vanish, nothing is refused) holds the writer and /healthz forever; TCP alone notices only
# after many minutes. asyncpg has no TCP keepalive option (0.32 sets only TCP_NODELAY on its socket), so the
# client-side timeouts below are what catch a silent server.
#: a connection is made in milliseconds on a working network; one that takes this long will not be made
CONNECT_TIMEOUT = 5.0
#: the server cancels any statement running longer (no legitimate one comes near: a group commit and the
#: statistics of a long range take well under a second); the connection stays usable
STATEMENT_TIMEOUT_MS = 30_000
#: client side, a little after the server's own limit: fires only when the server no longer answers at all
COMMAND_TIMEOUT = STATEMENT_TIMEOUT_MS / 1000 + 5
#: /healthz is probed every few seconds and must answer promptly either way
PING_TIMEOUT = 2.0
#: a write that waits on a lock this long fails (→ 503) rather than hang, as SQLite's busy timeout
LOCK_TIMEOUT_MS = 5000
#: the server's keepalive probes (every 10 s after 30 s idle, 3 unanswered = gone) end the sessions of a
#: delivrd host that vanished, so their locks do not outlive it by the kernel's default two hours
SERVER_KEEPALIVES = {"tcp_keepalives_idle": "30", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"}
#: errors after which the transaction surely rolled back, so trying the group again is safe
RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
#: failures that come from what was written (a value, a constraint, an index entry too large) rather than
#: from the database being unable to commit: the writer then looks for the push at fault
REFUSED = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, asyncpg.ProgramLimitExceededError)

# A whole group is this one statement: one round trip, one implicit transaction, all or
# nothing. Rows travel as one array per column ($n) and refer to their push by its position
# in the group (`push`), which the inbox rows turn into inbox ids. A report's key is claimed
# first, in key order (so two writers never wait on each other in a cycle); only reports
# whose key was new are inserted, and a known key counts one more duplicate. The new
# reports are folded into their messages (`insight_sql.fold_reports`) in the same statement.
PUSH = Column("push", "bigint")  # a row's push: its position in the group
REPEATS = Column("repeats", "int")  # how many more times the group holds the same row


def _write_group() -> tuple[str, int]:
    """WRITE_GROUP, its columns from the specs, and how many parameters it takes."""
    n = Numbers()
    inbox, reports, replies = columns.INBOX.names, columns.REPORTS.names, columns.REPLIES.names
    inbox_arrays = n.arrays(columns.INBOX.written)
    report_arrays = n.arrays((PUSH, *columns.REPORTS.written, REPEATS))
    reply_arrays = n.arrays((PUSH, *columns.REPLIES.written, REPEATS))
    reject_arrays = n.arrays((PUSH, *columns.REJECTS.written))
    shard, pushes, received_reports, received_replies, rejected = (n.next() for _ in range(5))
    fresh = (
        "(SELECT i.* FROM incoming i JOIN claimed c ON c.sid = i.sid AND c.dedup_key = i.dedup_key WHERE c.fresh) AS f"
    )
    sql = f"""
WITH pushes AS MATERIALIZED (
    SELECT nextval('inbox_id_seq') AS inbox_id, p.*
    FROM unnest({inbox_arrays}) WITH ORDINALITY AS p({", ".join(inbox)}, push)
), inbox_rows AS (
    INSERT INTO inbox (id, {", ".join(inbox)})
    SELECT inbox_id, {", ".join(inbox)} FROM pushes
), incoming AS MATERIALIZED (
    SELECT t.*, nextval('reports_id_seq') AS new_id, p.inbox_id, p.received_at  -- ids in arrival order
    FROM unnest({report_arrays}) AS t(push, {", ".join(reports)}, repeats)
    JOIN pushes p USING (push)
), claimed AS (
    INSERT INTO report_keys (sid, dedup_key, report_id, received_at, duplicates)
    SELECT sid, dedup_key, new_id, received_at, repeats FROM incoming ORDER BY sid, dedup_key
    ON CONFLICT (sid, dedup_key) DO UPDATE SET duplicates = report_keys.duplicates + 1 + excluded.duplicates
    RETURNING sid, dedup_key, xmax = 0 AS fresh
), new_reports AS (
    INSERT INTO reports (id, {", ".join(reports + columns.PUSHED)})
    SELECT i.new_id, {", ".join("i." + name for name in reports + columns.PUSHED)}
    FROM incoming i JOIN claimed c ON c.sid = i.sid AND c.dedup_key = i.dedup_key
    WHERE c.fresh
    RETURNING 1
), new_messages AS (
{insight_sql.fold_reports(fresh, grouped=True)}
), new_replies AS (
    INSERT INTO replies ({", ".join(replies + columns.PUSHED)}, duplicates)
    SELECT {", ".join("t." + name for name in replies)}, p.inbox_id, p.received_at, t.repeats
    FROM unnest({reply_arrays}) AS t(push, {", ".join(replies)}, repeats)
    JOIN pushes p USING (push)
    ORDER BY t.dedup_key
    ON CONFLICT (dedup_key) DO UPDATE SET duplicates = replies.duplicates + 1 + excluded.duplicates
    RETURNING xmax = 0 AS fresh
), reject_rows AS (
    INSERT INTO rejects (inbox_id, received_at, route, {", ".join(columns.REJECTS.names)})
    SELECT p.inbox_id, p.received_at, p.route, {", ".join("t." + name for name in columns.REJECTS.names)}
    FROM unnest({reject_arrays}) AS t(push, {", ".join(columns.REJECTS.names)})
    JOIN pushes p USING (push)
), counts AS (
    SELECT (SELECT count(*) FROM new_reports) AS reports,
           (SELECT count(*) FROM new_replies WHERE fresh) AS replies
), counted AS (
    INSERT INTO counters (name, shard, value)
    SELECT name, {shard}, value FROM counts, LATERAL (VALUES
        ('inbox', {pushes}::bigint), ('reports', counts.reports),
        ('report_duplicates', {received_reports} - counts.reports),
        ('replies', counts.replies), ('reply_duplicates', {received_replies} - counts.replies), ('rejects', {rejected})
    ) AS t(name, value)
    ORDER BY name
    ON CONFLICT (name, shard) DO UPDATE SET value = counters.value + excluded.value
)
SELECT reports, replies FROM counts
"""
    return sql, n.count


# A whole group is this one statement: one round trip, one implicit transaction, all or
# nothing. Rows travel as one array per column ($n) and refer to their push by its position
# in the group (`push`), which the inbox rows turn into inbox ids. A report's key is claimed
# first, in key order (so two writers never wait on each other in a cycle); only reports
# whose key was new are inserted, and a known key counts one more duplicate. The new
# reports are folded into their messages (`insight_sql.fold_reports`) in the same statement.
WRITE_GROUP, WRITE_GROUP_PARAMETERS = _write_group()

# Reports join their key, which holds the duplicates count. A sid or mobile matches a handful of rows: find
# them through their index and sort them. Ordered by plain r.id, a partition without fresh statistics can
# instead walk every id backwards filtering on sid (seen: 180 ms at 1M reports, 8 s at 10M, before ANALYZE);
# `+ 0` takes that plan away.
REPORTS = ReportSource(
    select=f"SELECT {columns.REPORTS.select('r.', duplicates='coalesce(k.duplicates, 0)')}"
    " FROM reports r LEFT JOIN report_keys k ON k.sid = r.sid AND k.dedup_key = r.dedup_key AND k.report_id = r.id",
    prefix="r.",
    mobile="r.mobile = ?",
    mobile_binds=1,
    order="r.id",
    narrow_order="r.id + 0",
)

# ON CONFLICT DO NOTHING without a target: either unique index (sid+mobile, or a refused
# number's mobile+sent_at) makes a send already registered
_SENDS = Numbers()
INSERT_SENDS = f"""
INSERT INTO sends ({", ".join(columns.SENDS.names)}, registered_at)
SELECT *, {_SENDS.next()} FROM unnest({_SENDS.arrays(columns.SENDS.written)})
ON CONFLICT DO NOTHING
RETURNING sid, mobile, sent_at, nationcode, template_id, sign_name, code
"""
# the new sends and their messages, in one statement (one implicit transaction)
REGISTER_SENDS = f"""
WITH new AS ({INSERT_SENDS}), folded AS (
{insight_sql.fold_sends("new")}
)
SELECT count(*) FROM new
"""
MESSAGES = insight_sql.numbered(insight_sql.MESSAGES)
#: rows handed over per step of `messages` (a server-side cursor: memory stays bounded)
CHUNK = 5000


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"PostgreSQL database {parts.path.lstrip('/') or '(default)'} on {host}:{parts.port or 5432}"


def partition_name(table: str, day: int) -> str:
    return f"{table}_p{datetime.fromtimestamp(day * DAY_US / 1e6, UTC):%Y%m%d}"


class PostgresSchema:
    """Schema versioning for PostgreSQL: the version lives in `delivrd_schema`, steps apply under an advisory lock."""

    dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection, where: str) -> None:
        self.conn = conn
        self.where = where

    async def version(self) -> int:
        # pg_tables through the statement's snapshot: to_regclass may not yet see a concurrent starter's commit
        exists = "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'delivrd_schema')"
        if not await self.conn.fetchval(exists):
            return 0
        return await self.conn.fetchval("SELECT coalesce(max(version), 0) FROM delivrd_schema")

    async def is_empty(self) -> bool:
        return not await self.conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
            " AND relkind IN ('r', 'p', 'v', 'S'))"
        )

    async def apply(self, migration: migrations.Migration) -> None:
        """One step in one transaction; the lock makes a concurrent starter wait, then skip the step."""
        async with self.conn.transaction():
            await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.delivrd_schema'))")
            if await self.version() >= migration.version:
                return
            for statement in migration.statements():
                await self.conn.execute(statement)
            await self.conn.execute("CREATE TABLE IF NOT EXISTS delivrd_schema (version integer NOT NULL)")
            await self.conn.execute("DELETE FROM delivrd_schema")
            await self.conn.execute("INSERT INTO delivrd_schema (version) VALUES ($1)", migration.version)

    async def prepare(self, *, migrate: bool) -> None:
        """Decide and apply under one session lock: a concurrent starter waits for every step, never
        reading a half-upgraded schema (which it would refuse without --migrate)."""
        await self.conn.execute("SELECT pg_advisory_lock(hashtext(current_schema() || '.delivrd_schema'))")
        try:
            current = await self.version()
            empty = current == 0 and await self.is_empty()
            for migration in migrations.plan(self.where, self.dialect, current, empty=empty, migrate=migrate):
                await self.apply(migration)
        finally:
            await self.conn.execute("SELECT pg_advisory_unlock(hashtext(current_schema() || '.delivrd_schema'))")


class PostgresStore(SQLReads, Store):
    dialect = "postgresql"
    reports_from = REPORTS

    def __init__(self, url: str, *, migrate: bool = False, pool_size: int = 4) -> None:
        self.url = url
        self.migrate = migrate
        self.pool_size = pool_size
        self.where = describe(url)
        self._pool: asyncpg.Pool | None = None
        self._days: set[int] = set()  # days whose partitions are known to exist
        self._shard = os.getpid() % 1024  # this process's counter rows
        # fail a write that waits on a lock (→ 503) rather than hang; name the connections
        self._settings = {"lock_timeout": f"{LOCK_TIMEOUT_MS}ms", **SERVER_KEEPALIVES}
        if "application_name=" not in (urlsplit(url).query or ""):
            self._settings["application_name"] = "delivrd"

    async def _connect(self) -> asyncpg.Connection:
        """A connection of its own, for schema changes: no statement timeout (a migration may take long)."""
        return await asyncpg.connect(self.url, server_settings=self._settings, timeout=CONNECT_TIMEOUT)

    # -- life cycle --------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            conn = await self._connect()
            try:
                await PostgresSchema(conn, self.where).prepare(migrate=self.migrate)
            finally:
                await conn.close()
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=self.pool_size,
                timeout=CONNECT_TIMEOUT,
                command_timeout=COMMAND_TIMEOUT,
                server_settings={**self._settings, "statement_timeout": str(STATEMENT_TIMEOUT_MS)},
            )
            await self.maintain()
        except StoreError:
            await self.close()
            raise
        except FAILURES as exc:
            await self.close()
            raise StoreError(f"cannot open {self.where}: {_reason(exc)}") from exc

    async def schema_version(self) -> int:
        try:
            conn = await self._connect()
            try:
                return await PostgresSchema(conn, self.where).version()
            finally:
                await conn.close()
        except FAILURES as exc:
            raise StoreError(f"cannot read {self.where}: {_reason(exc)}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError(f"{self.where} is not open")
        return self._pool

    # -- partitions and retention ------------------------------------------------------------

    async def maintain(self) -> None:
        today = clock.now_micros() // DAY_US
        try:
            await self._ensure_days(range(today - 1, today + DAYS_AHEAD + 1))
        except FAILURES as exc:
            raise StoreError(f"creating partitions in {self.where} failed: {_reason(exc)}") from exc

    async def _ensure_days(self, days: Any) -> None:
        missing = sorted(set(days) - self._days)
        if not missing:
            return
        async with self._get_pool().acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.delivrd_partitions'))")
            for day in missing:
                for table in PARTITIONED:
                    await conn.execute(
                        f"CREATE TABLE IF NOT EXISTS {partition_name(table, day)} PARTITION OF {table}"
                        f" FOR VALUES FROM ({day * DAY_US}) TO ({(day + 1) * DAY_US})"
                    )
        self._days.update(missing)

    async def prune(self, before: int) -> dict[str, int]:
        """Drop every day partition that ends by `before` (its rows counted first); delete the unpartitioned rows
        of those days."""
        cutoff = before // DAY_US * DAY_US  # whole days: the rest of a day goes when all of it is old
        removed = {"reports": 0, "replies": 0, "rejects": 0, "inbox": 0, "sends": 0, "messages": 0}
        try:
            async with self._get_pool().acquire() as conn:
                # messages as wholes first (postgres_retention), then the old days' partitions and the rest
                removed["messages"], removed["reports"], removed["sends"] = await postgres_retention.delete_messages(
                    conn, cutoff
                )
                for table in PARTITIONED:
                    names = await conn.fetch(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                        " WHERE i.inhparent = $1::regclass ORDER BY c.relname",
                        table,
                    )
                    for (name,) in names:
                        day = _day_of(table, name)
                        if day is not None and (day + 1) * DAY_US <= cutoff:
                            removed[table] += await conn.fetchval(f"SELECT count(*) FROM {name}")
                            await conn.execute(f"DROP TABLE IF EXISTS {name}")
                            self._days.discard(day)
                for table, column in (
                    ("report_keys", "received_at"),  # the dedup keys of the reports dropped above: not counted twice
                    ("replies", "received_at"),
                    ("rejects", "received_at"),
                    ("sends", "sent_at"),
                    ("messages", "at"),  # left by the above only if a receipt came back meanwhile
                ):
                    # small batches, each its own transaction: writers never wait long behind retention
                    delete = (
                        f"DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {column} < $1 LIMIT 5000)"
                    )
                    while (status := await conn.execute(delete, cutoff)) != "DELETE 0":
                        if table in removed:
                            removed[table] += int(status.rpartition(" ")[2])
        except FAILURES as exc:
            raise StoreError(f"pruning {self.where} failed: {_reason(exc)}") from exc
        return removed

    # -- writing ---------------------------------------------------------------------------------

    async def write(self, pushes: Sequence[Push]) -> None:
        args = _group_arguments(pushes, self._shard)
        try:
            await self._ensure_days({push.received_at // DAY_US for push in pushes})
            for attempt in range(3):
                try:
                    await self._call("fetchrow", WRITE_GROUP, *args)
                    return
                except RETRYABLE:  # the statement was rolled back whole: trying again is safe
                    if attempt == 2:
                        raise
        except REFUSED as exc:
            raise StoreError(f"PostgreSQL refused the group: {_reason(exc)}") from exc
        except FAILURES as exc:
            raise StoreUnavailable(f"PostgreSQL commit failed: {_reason(exc)}") from exc

    async def register_sends(self, sends: Sequence[Send]) -> int:
        """The sends and their messages in one statement."""
        values = [columns.send_values(s) for s in sends]
        try:
            arrays = _columns(values, len(columns.SENDS.written))
            new: int = await self._get_pool().fetchval(REGISTER_SENDS, clock.now_micros(), *arrays)
        except FAILURES as exc:
            raise StoreError(f"PostgreSQL commit failed: {_reason(exc)}") from exc
        return new

    # -- reading ------------------------------------------------------------------------------

    async def _call(self, method: str, sql: str, *args: Any, timeout: float = COMMAND_TIMEOUT) -> Any:
        """One statement on a pooled connection, in `timeout` for the wait for a connection and again for the
        statement. A connection whose statement ended without the server's answer (a timeout, a lost network)
        is closed, not returned: returning it would first wait, up to the command timeout again, for a server
        that may not answer to confirm the cancel."""
        pool = self._get_pool()
        conn = await pool.acquire(timeout=timeout)
        try:
            return await getattr(conn, method)(sql, *args, timeout=timeout)
        except BaseException as exc:
            if not isinstance(exc, asyncpg.PostgresError):
                conn.terminate()
            raise
        finally:
            await pool.release(conn)

    async def _fetch(self, sql: str, *args: Any, timeout: float = COMMAND_TIMEOUT) -> list:
        try:
            return await self._call("fetch", sql, *args, timeout=timeout)
        except asyncpg.DataError:
            raise  # a value PostgreSQL cannot take got past the API's checks: a bug to fix (500), not an outage (503)
        except FAILURES as exc:
            raise StoreError(f"PostgreSQL read failed: {_reason(exc)}") from exc

    async def ping(self) -> None:
        await self._fetch("SELECT 1 FROM counters LIMIT 1", timeout=PING_TIMEOUT)

    async def counters(self) -> dict[str, int]:
        rows = await self._fetch("SELECT name, sum(value)::bigint FROM counters GROUP BY name")
        return dict(rows)

    async def _rows(self, sql: str, args: Sequence[Any]) -> list[asyncpg.Record]:
        return await self._fetch(_numbered(sql), *args)

    async def messages(self, query: MessageQuery) -> AsyncIterator[list[MessageRow]]:
        try:
            async with self._get_pool().acquire() as conn, conn.transaction(readonly=True):
                cursor = await conn.cursor(MESSAGES, *insight_sql.message_args(query))
                while found := await cursor.fetch(CHUNK):
                    yield [MessageRow(*r) for r in found]
        except FAILURES as exc:
            raise StoreError(f"PostgreSQL read failed: {_reason(exc)}") from exc


@functools.lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """The shared SQL's `?` as asyncpg's `$n`, rewritten once per statement text."""
    return insight_sql.numbered(sql)


def _day_of(table: str, name: str) -> int | None:
    """The day a partition named by `partition_name` holds; None for a table delivrd did not name."""
    try:
        moment = datetime.strptime(name.removeprefix(f"{table}_p"), "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(moment.timestamp()) * 1_000_000 // DAY_US


def _group_arguments(pushes: Sequence[Push], shard: int) -> list:
    """The arguments of WRITE_GROUP for one group; a report (or reply) twice in the group is one row, one duplicate."""
    reports: dict[tuple, list] = {}
    replies: dict[bytes, list] = {}
    rejects: list[tuple] = []
    received_reports = received_replies = 0
    for position, push in enumerate(pushes, 1):
        if push.route == CALLBACK:
            received_reports += len(push.rows)
            for row in push.rows:
                seen = reports.get((row[0], row[1]))
                if seen is None:
                    reports[(row[0], row[1])] = [position, *row, 0]
                else:
                    seen[-1] += 1
        else:
            received_replies += len(push.rows)
            for row in push.rows:
                seen = replies.get(row[0])
                if seen is None:
                    replies[row[0]] = [position, *row, 0]
                else:
                    seen[-1] += 1
        rejects.extend((position, q.index, q.reason, q.raw) for q in push.rejects)
    return [
        *_columns([columns.inbox_values(p) for p in pushes], len(columns.INBOX.written)),
        *_columns(list(reports.values()), len(columns.REPORTS.written) + 2),
        *_columns(list(replies.values()), len(columns.REPLIES.written) + 2),
        *_columns(rejects, len(columns.REJECTS.written) + 1),
        shard,
        len(pushes),
        received_reports,
        received_replies,
        sum(p.rejected for p in pushes),
    ]


def _columns(rows: list, width: int) -> list[list]:
    """Rows → one list per column, the shape `unnest($1::…[], $2::…[], …)` takes."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows)]


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


assert len(_group_arguments([], 0)) == WRITE_GROUP_PARAMETERS, "WRITE_GROUP and _group_arguments disagree"
