"""SQLite storage: WAL with synchronous=FULL, one write connection on its own thread.

The writer thread owns the only write connection (SQLite allows one writer anyway);
reads use their own read-only connections on a small thread pool, which WAL lets
run beside the writer. Durability: every `write` ends in COMMIT with
synchronous=FULL, so a returned `write` survives a kill -9 or a power cut.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from delivrd.domain import clock
from delivrd.domain.push import CALLBACK, Push
from delivrd.store import columns, insight_sql, migrations
from delivrd.store.base import MessageQuery, MessageRow, Send, Store, StoreError, StoreUnavailable
from delivrd.store.forwarding import GuardFailed, SQLForwarding, Step
from delivrd.store.reads import ReportSource, SQLReads
from delivrd.store.sqlite import erasure as sqlite_erasure
from delivrd.store.sqlite import mobiles as sqlite_mobiles
from delivrd.store.sqlite import retention as sqlite_retention
from delivrd.store.sqlite.connect import UNAVAILABLE, Connection, Error, closed, connect, immediate
from delivrd.store.sqlite.optouts import SQLiteOptOuts

T = TypeVar("T")
log = logging.getLogger("delivrd.store.sqlite.store")

#: The write connection's page cache, in KiB (SQLite's default is 2 MiB).
WRITER_CACHE_KIB = 64 * 1024
#: WAL pages (4 KiB) after which a commit checkpoints (SQLite's default is 1000). A checkpoint
#: stalls the commit that runs it, so this sets the latency tail: 20,000 gave p99 8.6-9.5 ms at
#: 5.8k req/s, 2,000 gave 4.9-5.1 ms, with batch-100 throughput unchanged (docs/performance.md).
CHECKPOINT_PAGES = 2_000
#: while fewer than a chunk's worth of reports wait, they are indexed this often (seconds)
INDEX_IDLE_SECONDS = 1.0


INSERT_INBOX = columns.insert("inbox", ("id", *columns.INBOX.names))
UPSERT_REPORT = (
    columns.insert("reports", columns.REPORTS.names + columns.PUSHED)
    + " ON CONFLICT (sid, dedup_key) DO UPDATE SET duplicates = duplicates + 1"
)
UPSERT_REPLY = (
    columns.insert("replies", columns.REPLIES.names + columns.PUSHED)
    + " ON CONFLICT (dedup_key) DO UPDATE SET duplicates = duplicates + 1"
)
#: the group's new receipts (ids above the mark) folded into their messages; NOT INDEXED: a rowid
#: range, never a walk of the sid index (which the planner would pick for the grouping)
FOLD_REPORTS = insight_sql.fold_reports("reports NOT INDEXED WHERE id > ?", grouped=False)
#: the group's new reports (ids above the mark) as forwarding's events (migration 0004); PostgreSQL's trigger
#: `delivrd_report_events` says the same
REPORT_EVENTS = (
    "INSERT INTO events (type, ref, at) SELECT CASE WHEN report_status = 'SUCCESS' THEN 'report.delivered'"
    " ELSE 'report.failed' END, id, received_at FROM reports NOT INDEXED WHERE id > ? ORDER BY id"
)
INSERT_REJECT = columns.insert("rejects", ("inbox_id", "received_at", "route", *columns.REJECTS.names))
ADD_COUNTER = (
    "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
)

#: what retention removes, and by which time
RETAINED = (
    ("reports", "received_at"),
    ("replies", "received_at"),
    ("rejects", "received_at"),
    ("inbox", "received_at"),
    ("sends", "sent_at"),
    ("messages", "at"),
)

INSERT_SEND = columns.insert("sends", (*columns.SENDS.names, "registered_at")) + " ON CONFLICT DO NOTHING"
#: the call's new sends (ids above the mark) given their messages
FOLD_SENDS = insight_sql.fold_sends("sends NOT INDEXED WHERE id > ?")  # a rowid range
#: rows handed over per step of `messages`
CHUNK = 5000

#: reports are found by mobile through the index filled behind ingest (`sqlite_mobiles`)
REPORTS = ReportSource(
    select=f"SELECT {columns.REPORTS.select()} FROM reports",
    prefix="",
    mobile=sqlite_mobiles.MATCH,
    mobile_binds=2,
    order="id",
    narrow_order="id",
)


class SQLiteSchema:
    """Schema versioning for SQLite: the version lives in PRAGMA user_version."""

    dialect = "sqlite"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.where = "this SQLite database"

    def version(self) -> int:
        return self.conn.execute("PRAGMA user_version").get

    def is_empty(self) -> bool:
        return self.conn.execute("SELECT count(*) FROM sqlite_master").get == 0

    def apply(self, migration: migrations.Migration) -> None:
        # BEGIN IMMEDIATE takes the write lock first, so two processes never apply one step twice
        with immediate(self.conn):
            if self.version() < migration.version:
                for statement in migration.statements():
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {migration.version}")


class SQLiteStore(SQLiteOptOuts, SQLReads, SQLForwarding, Store):
    dialect = "sqlite"
    reports_from = REPORTS
    xid_column = "0"  # one writer at a time: seq order is commit order

    def __init__(self, path: str | Path, *, migrate: bool = False, readers: int = 4) -> None:
        self.path = str(path)
        self.migrate = migrate
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="delivrd-sqlite-writer")
        self._read_threads = ThreadPoolExecutor(readers, thread_name_prefix="delivrd-sqlite-reader")
        self._local = threading.local()
        self._conn: Connection | None = None
        self._unindexed = 0  # reports not yet in report_mobiles (an estimate; see sqlite_mobiles)
        self._index_wanted = asyncio.Event()
        self._indexer: asyncio.Task[None] | None = None

    # -- threads -------------------------------------------------------------------------

    async def _on_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._write_thread, fn, *args)

    async def _on_reader(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._read_threads, fn, *args)

    def _reader(self) -> Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
        return conn

    # -- life cycle --------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            self._unindexed = await self._on_writer(self._open)
        except Error as exc:
            raise StoreError(f"cannot open SQLite database {self.path}: {exc}") from exc
        self._indexer = asyncio.get_running_loop().create_task(self._index_behind(), name="delivrd-sqlite-indexer")

    async def _index_behind(self) -> None:
        """Fill report_mobiles behind ingest: whenever a chunk's worth waits, else once a second."""
        while True:
            try:
                await asyncio.wait_for(self._index_wanted.wait(), INDEX_IDLE_SECONDS)
                self._index_wanted.clear()
                if self._unindexed < sqlite_mobiles.CHUNK:
                    continue
            except TimeoutError:
                if self._unindexed <= 0:
                    continue
            try:
                # the whole tail at once: under saturating load that is about one commit group, so
                # the index keeps up (a fixed chunk smaller than a group would fall further behind)
                limit = max(sqlite_mobiles.CHUNK, self._unindexed)
                self._unindexed = await self._on_writer(self._index_chunk, limit)
            except Error as exc:  # lookups still find the tail; try again on the next round
                log.error("indexing reports by mobile failed: %s", exc)
                await asyncio.sleep(INDEX_IDLE_SECONDS)

    def _index_chunk(self, limit: int) -> int:
        if self._conn is None:
            raise closed()
        return sqlite_mobiles.index_chunk(self._conn, limit)

    def _open(self) -> int:
        conn = connect(self.path)
        mode = conn.execute("PRAGMA journal_mode = WAL").get
        if mode != "wal":
            raise Error(f"could not switch to WAL journal mode (got {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        # Speed without touching durability (measured in bench/, see docs/performance.md): a
        # 64 MiB page cache keeps the index pages in memory instead of re-reading them.
        conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
        conn.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
        migrations.prepare(SQLiteSchema(conn), migrate=self.migrate)
        self._conn = conn
        return sqlite_mobiles.unindexed(conn)

    async def schema_version(self) -> int:
        def read() -> int:
            if not os.path.exists(self.path):
                return 0  # no database yet: `open` (or `delivrd db upgrade`) creates it
            conn = connect(self.path, readonly=True)
            try:
                return SQLiteSchema(conn).version()
            finally:
                conn.close()

        try:
            return await self._on_writer(read)
        except Error as exc:
            raise StoreError(f"cannot read SQLite database {self.path}: {exc}") from exc

    async def close(self) -> None:
        if self._indexer is not None:
            self._indexer.cancel()
            await asyncio.gather(self._indexer, return_exceptions=True)
            self._indexer = None

        def close_writer() -> None:
            if self._conn is not None:
                try:  # leave the index complete, so the next start serves lookups from it alone
                    while sqlite_mobiles.index_chunk(self._conn) > 0:
                        pass
                except Error as exc:
                    log.error("indexing reports by mobile at close failed: %s", exc)
                self._conn.close()
                self._conn = None

        await self._on_writer(close_writer)
        self._write_thread.shutdown()
        self._read_threads.shutdown()

    # -- writing ---------------------------------------------------------------------------------

    async def write(self, pushes: Sequence[Push]) -> None:
        try:
            self._unindexed += await self._on_writer(self._write, pushes)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"SQLite commit failed: {exc}") from exc
        except Error as exc:
            raise StoreError(f"SQLite commit failed: {exc}") from exc
        if self._unindexed >= sqlite_mobiles.CHUNK:
            self._index_wanted.set()

    def _write(self, pushes: Sequence[Push]) -> int:
        """Commit `pushes` in one transaction; returns how many reports were new."""
        conn = self._conn
        if conn is None:
            raise closed()
        reports: list[tuple] = []
        replies: list[tuple] = []
        rejects: list[tuple] = []
        with immediate(conn):
            # the group's inbox ids are known before inserting (the write lock is held), so the
            # inbox rows go in with one executemany instead of a statement per push
            top = conn.execute("SELECT coalesce(max(id), 0) FROM inbox").get
            conn.executemany(
                INSERT_INBOX,
                [(top + n, *columns.inbox_values(push)) for n, push in enumerate(pushes, 1)],
            )
            for inbox_id, push in enumerate(pushes, top + 1):
                tail = (inbox_id, push.received_at)
                (reports if push.route == CALLBACK else replies).extend([row + tail for row in push.rows])
                rejects.extend((inbox_id, push.received_at, push.route, q.index, q.reason, q.raw) for q in push.rejects)
            new_reports = self._upsert(conn, "reports", UPSERT_REPORT, reports, then=(FOLD_REPORTS, REPORT_EVENTS))
            new_replies = self._upsert(conn, "replies", UPSERT_REPLY, replies)
            if rejects:
                conn.executemany(INSERT_REJECT, rejects)
            conn.executemany(
                ADD_COUNTER,
                [
                    ("inbox", len(pushes)),
                    ("reports", new_reports),
                    ("report_duplicates", len(reports) - new_reports),
                    ("replies", new_replies),
                    ("reply_duplicates", len(replies) - new_replies),
                    ("rejects", sum(push.rejected for push in pushes)),
                ],
            )
        return new_reports

    @staticmethod
    def _upsert(conn: Connection, table: str, sql: str, rows: list[tuple], then: tuple[str, ...] = ()) -> int:
        """Insert-or-count-duplicate; returns how many rows were new. `then` run with the id below the new rows."""
        if not rows:
            return 0
        top = conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").get
        conn.executemany(sql, rows)
        new = conn.execute(f"SELECT count(*) FROM {table} WHERE id > ?", (top,)).get
        if new:
            for statement in then:
                conn.execute(statement, (top,))
        return new

    async def prune(self, before: int) -> dict[str, int]:
        """Delete rows received before `before`, 1000 at a time, each batch its own short transaction."""
        removed = dict.fromkeys((table for table, _ in RETAINED), 0)
        while True:  # messages as wholes first (sqlite_retention), then whatever else is old
            messages, reports, sends = await self._prune_batch(self._delete_messages, before)
            if not messages:
                break
            removed["messages"] += messages
            removed["reports"] += reports
            removed["sends"] += sends
        for table, column in RETAINED:
            while batch := await self._prune_batch(self._delete_old, table, column, before):
                removed[table] += batch
        removed["events"] = await self.prune_events(before)
        return removed

    async def _prune_batch(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await self._on_writer(fn, *args)
        except Error as exc:
            raise StoreError(f"SQLite prune failed: {exc}") from exc

    def _delete_messages(self, before: int) -> tuple[int, int, int]:
        if self._conn is None:
            raise closed()
        return sqlite_retention.delete_messages(self._conn, before, 1000)

    def _delete_old(self, table: str, column: str, before: int) -> int:
        conn = self._conn
        if conn is None:
            raise closed()
        if table == "reports":
            return sqlite_mobiles.delete_reports(conn, before, 1000)
        sql = f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {column} < ? LIMIT 1000)"
        conn.execute(sql, (before,))  # autocommit: one transaction per batch
        return conn.changes()

    # -- forwarding's writes and positions (delivrd.store.forwarding) -------------------------------------------

    async def _transact(self, steps: Sequence[Step]) -> list[int] | None:
        try:
            return await self._on_writer(self._run_steps, steps)
        except Error as exc:
            raise StoreError(f"SQLite commit failed: {exc}") from exc

    def _run_steps(self, steps: Sequence[Step]) -> list[int] | None:
        conn = self._conn
        if conn is None:
            raise closed()
        changed: list[int] = []
        try:
            with immediate(conn):
                for step in steps:
                    before = conn.total_changes()
                    if step.many:
                        conn.executemany(step.sql, step.args)
                    else:
                        conn.execute(step.sql, step.args)
                    changed.append(conn.total_changes() - before)
                    if step.guard and not changed[-1]:
                        raise GuardFailed
        except GuardFailed:
            return None
        return changed

    async def _after(self, xid: int, seq: int) -> tuple[str, list[Any], str]:
        return "seq > ?", [seq], "seq"

    async def purge_phone(self, nationcode: str, mobile: str) -> dict[str, int]:
        """The bodies to mask are searched on a reader (the writer is not held while they are read), then the
        number is erased in one write transaction (`sqlite_erasure`)."""
        found = await self._read(lambda conn: sqlite_erasure.candidates(conn, nationcode, mobile))
        try:
            return await self._on_writer(self._with_writer, sqlite_erasure.purge, nationcode, mobile, found)
        except Error as exc:
            raise StoreError(f"SQLite erasure failed: {exc}") from exc

    async def drop_inbox_bodies(self, before: int) -> int:
        dropped, finished = 0, False
        while not finished:
            batch, finished = await self._prune_batch(self._with_writer, sqlite_erasure.drop_bodies, before)
            dropped += batch
        return dropped

    def _with_writer(self, fn: Callable[..., T], *args: Any) -> T:
        if self._conn is None:
            raise closed()
        return fn(self._conn, *args)

    async def register_sends(self, sends: Sequence[Send]) -> int:
        """Sends are written on the writer thread (one transaction per call, beside the group commits), their
        messages in the same transaction."""
        try:
            return await self._on_writer(self._register_sends, sends)
        except Error as exc:
            raise StoreError(f"SQLite commit failed: {exc}") from exc

    def _register_sends(self, sends: Sequence[Send]) -> int:
        conn = self._conn
        if conn is None:
            raise closed()
        now = clock.now_micros()
        values = [(*columns.send_values(s), now) for s in sends]
        with immediate(conn):
            top = conn.execute("SELECT coalesce(max(id), 0) FROM sends").get
            before = conn.total_changes()
            conn.executemany(INSERT_SEND, values)
            new = conn.total_changes() - before
            if new:
                conn.execute(FOLD_SENDS, (top,))
        return new

    # -- reading ------------------------------------------------------------------------------

    async def ping(self) -> None:
        try:
            await self._on_reader(lambda: self._reader().execute("SELECT 1 FROM counters LIMIT 1").fetchall())
        except Error as exc:
            raise StoreError(f"SQLite is not answering: {exc}") from exc

    async def counters(self) -> dict[str, int]:
        return dict(await self._rows("SELECT name, value FROM counters", ()))

    async def _read(self, fn: Callable[[Connection], T]) -> T:
        try:
            return await self._on_reader(lambda: fn(self._reader()))
        except Error as exc:
            raise StoreError(f"SQLite read failed: {exc}") from exc

    async def _rows(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        return await self._read(lambda c: c.execute(sql, args).fetchall())

    async def messages(self, query: MessageQuery) -> AsyncIterator[list[MessageRow]]:
        # a connection of its own, so the cursor can be stepped from whichever reader thread is free
        conn = connect(self.path, readonly=True)
        try:
            cursor = await self._on_reader(conn.execute, insight_sql.MESSAGES, insight_sql.message_args(query))
            while found := await self._on_reader(lambda: list(islice(cursor, CHUNK))):
                yield [MessageRow(*r) for r in found]
        except Error as exc:
            raise StoreError(f"SQLite read failed: {exc}") from exc
        finally:
            conn.close()
