"""PostgreSQL storage: an asyncpg pool, one transaction per group, idempotency enforced by the database.

Several delivrd processes (workers, machines) can share one database with no other
coordination: each commits its own groups, and the duplicate check is a unique key
(`report_keys`, `replies.dedup_key`) that the database enforces across all of them.
Each group is one statement however many pushes it holds (`store.postgres.ingest`): its
rows travel as JSON documents that PostgreSQL expands. inbox and reports are partitioned
by day of `received_at`; partitions are created ahead of time (and on demand), and
retention drops whole days.
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
from delivrd.domain.push import Push
from delivrd.store import columns, insight_sql, migrations
from delivrd.store.base import MessageQuery, MessageRow, Send, Store, StoreError, StoreUnavailable
from delivrd.store.columns import Numbers
from delivrd.store.forwarding import GuardFailed, SQLForwarding, Step
from delivrd.store.postgres import erasure as pg_erasure
from delivrd.store.postgres import ingest
from delivrd.store.postgres import retention as postgres_retention
from delivrd.store.postgres.optouts import PostgresOptOuts
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


# Events are read up to the oldest transaction still running in this database (see migration 0004): the
# transactions in progress of the snapshot whose low 32 bits are a backend_xid of this database's sessions
# (pg_stat_activity shows xids in 32 bits, snapshots in 64); with none, the snapshot's xmax (every transaction
# below it has ended). Taken in a statement before the one that reads the events, so that a transaction that
# ends in between is visible to the read. Other databases' transactions do not hold forwarding back; sessions
# of another role are not shown (without pg_read_all_stats), so every delivrd of one database uses one role.
EVENT_HORIZON = """
WITH now AS (SELECT pg_current_snapshot() AS s),
running AS (
    SELECT backend_xid::text::bigint AS xid32 FROM pg_stat_activity
    WHERE datname = current_database() AND backend_xid IS NOT NULL
)
SELECT coalesce(
    (SELECT min(x) FROM now, pg_snapshot_xip(now.s) AS x WHERE x::text::bigint % 4294967296 IN (SELECT xid32 FROM running)),
    (SELECT pg_snapshot_xmax(s) FROM now)
)::text::bigint
"""


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


class PostgresStore(PostgresOptOuts, SQLReads, SQLForwarding, Store):
    dialect = "postgresql"
    reports_from = REPORTS
    xid_column = "{q}xid::text::bigint"

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
        removed["events"] = await self.prune_events(cutoff)
        return removed

    async def purge_phone(self, nationcode: str, mobile: str) -> dict[str, int]:
        """The bodies to mask are searched first, then the number is erased in one transaction (`pg_erasure`)."""
        try:
            async with self._get_pool().acquire() as conn:
                inbox = await pg_erasure.candidates(conn, nationcode, mobile)
                return await pg_erasure.purge(conn, nationcode, mobile, inbox)
        except FAILURES as exc:
            raise StoreError(f"erasure in {self.where} failed: {_reason(exc)}") from exc

    async def drop_inbox_bodies(self, before: int) -> int:
        dropped, finished = 0, False
        try:
            async with self._get_pool().acquire() as conn:
                while not finished:
                    batch, finished = await pg_erasure.drop_bodies(conn, before)
                    dropped += batch
        except FAILURES as exc:
            raise StoreError(f"dropping inbox bodies in {self.where} failed: {_reason(exc)}") from exc
        return dropped

    # -- writing ---------------------------------------------------------------------------------

    async def write(self, pushes: Sequence[Push]) -> None:
        args = ingest.group_arguments(pushes, self._shard)
        try:
            await self._ensure_days({push.received_at // DAY_US for push in pushes})
            for attempt in range(3):
                try:
                    await self._call("fetchrow", ingest.WRITE_GROUP, *args)
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
            arrays = ingest.arrays(values, len(columns.SENDS.written))
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

    # -- forwarding's writes and positions (delivrd.store.forwarding) -------------------------------------------

    async def _transact(self, steps: Sequence[Step]) -> list[int] | None:
        changed: list[int] = []
        try:
            async with self._get_pool().acquire(timeout=COMMAND_TIMEOUT) as conn, conn.transaction():
                for step in steps:
                    if step.many:
                        await conn.executemany(_numbered(step.sql), step.args)
                        changed.append(len(step.args))  # asyncpg reports no count for a batch
                    else:
                        status = await conn.execute(_numbered(step.sql), *step.args)
                        changed.append(int(status.rpartition(" ")[2] or 0))
                    if step.guard and not changed[-1]:
                        raise GuardFailed
        except GuardFailed:
            return None
        except FAILURES as exc:
            raise StoreError(f"PostgreSQL commit failed: {_reason(exc)}") from exc
        return changed

    async def _after(self, xid: int, seq: int) -> tuple[str, list[Any], str]:
        # read first, in a statement of its own: the oldest transaction of this database still running (none
        # of them can add an event behind it once the events are read, in the next statement's snapshot)
        horizon = (await self._fetch(EVENT_HORIZON))[0][0]
        return (
            "(xid, seq) > (?::bigint::text::xid8, ?) AND xid < ?::bigint::text::xid8",
            [xid, seq, horizon],
            "xid, seq",
        )

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


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
