"""SQLite side of sends, message state and statistics (mixed into SQLiteStore).

Sends are written on the writer thread (one transaction per call, beside the group
commits), their messages in the same transaction; reads run on the reader threads.
The SQL itself is shared with every backend (`insight_sql`).
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, AsyncIterator, Sequence

from delivrd.domain import clock
from delivrd.query.models import SendRecord, iso_utc
from delivrd.store import insight_sql
from delivrd.store.base import MessageQuery, MessageRow, Send, SendQuery, StatsQuery, StatsRow, StoreError
from delivrd.store.sqlite.connect import Error, closed, connect, immediate

if TYPE_CHECKING:
    from delivrd.store.sqlite.store import SQLiteStore

INSERT_SEND = (
    "INSERT INTO sends (sid, phone, nationcode, mobile, sent_at, template_id, sign_name, fee, session_context,"
    " code, message, iso_code, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)
SEND_COLUMNS = (
    "id, sid, phone, nationcode, mobile, template_id, sign_name, fee, session_context, code, message, iso_code,"
    " sent_at, registered_at"
)
#: the call's new sends (ids above the mark) given their messages
FOLD_SENDS = insight_sql.fold_sends("sends NOT INDEXED WHERE id > ?")  # a rowid range
#: rows handed over per step of `messages`
CHUNK = 5000


def send_record(r: tuple) -> SendRecord:
    return SendRecord(
        id=r[0], sid=r[1], phone=r[2], nationcode=r[3], mobile=r[4], template_id=r[5], sign_name=r[6], fee=r[7],
        session_context=r[8], code=r[9], message=r[10], iso_code=r[11], sent_at=iso_utc(r[12]),
        registered_at=iso_utc(r[13]),
    )  # fmt: skip


class SQLiteInsight:
    """register_sends, sends, messages and stats for SQLiteStore."""

    async def register_sends(self: "SQLiteStore", sends: Sequence[Send]) -> int:
        try:
            return await self._on_writer(self._register_sends, sends)
        except Error as exc:
            raise StoreError(f"SQLite commit failed: {exc}") from exc

    def _register_sends(self: "SQLiteStore", sends: Sequence[Send]) -> int:
        conn = self._conn
        if conn is None:
            raise closed()
        now = clock.now_micros()
        rows = [
            (s.sid, s.phone, s.nationcode, s.mobile, s.sent_at, s.template_id, s.sign_name, s.fee,
             s.session_context, s.code, s.message, s.iso_code, now)
            for s in sends
        ]  # fmt: skip
        with immediate(conn):
            top = conn.execute("SELECT coalesce(max(id), 0) FROM sends").fetchone()[0]
            before = conn.total_changes()
            conn.executemany(INSERT_SEND, rows)
            new = conn.total_changes() - before
            if new:
                conn.execute(FOLD_SENDS, (top,))
        return new

    async def sends(self: "SQLiteStore", query: SendQuery) -> list[SendRecord]:
        where, args = [], []
        for column, value in (("sid", query.sid), ("nationcode", query.nationcode), ("mobile", query.mobile)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT {SEND_COLUMNS} FROM sends"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY sent_at DESC, id DESC LIMIT ?"
        rows = await self._read(lambda c: c.execute(sql, [*args, query.limit]).fetchall())
        return [send_record(r) for r in rows]

    async def messages(self: "SQLiteStore", query: MessageQuery) -> AsyncIterator[list[MessageRow]]:
        # a connection of its own, so the cursor can be stepped from whichever reader thread is free
        conn = connect(self.path, readonly=True)
        try:
            cursor = await self._on_reader(conn.execute, insight_sql.MESSAGES, insight_sql.message_args(query))
            while rows := await self._on_reader(lambda: list(islice(cursor, CHUNK))):
                yield [MessageRow(*r) for r in rows]
        except Error as exc:
            raise StoreError(f"SQLite read failed: {exc}") from exc
        finally:
            conn.close()

    async def stats(self: "SQLiteStore", query: StatsQuery) -> list[StatsRow]:
        sql = insight_sql.stats_sql(query.by)
        args = insight_sql.stats_args(query)
        return insight_sql.stats_rows(await self._read(lambda c: c.execute(sql, args).fetchall()))
