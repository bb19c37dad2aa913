"""PostgreSQL side of sends, message state and statistics (mixed into PostgresStore).

The SQL is the one every backend runs (`insight_sql`), with numbered placeholders;
register_sends writes the sends and their messages in one statement.
`messages` streams through a server-side cursor, so memory stays bounded however many
messages the range holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncIterator, Sequence

from delivrd.domain import clock
from delivrd.query.models import SendRecord
from delivrd.store import insight_sql
from delivrd.store.base import MessageQuery, MessageRow, Send, SendQuery, StatsQuery, StatsRow, StoreError
from delivrd.store.sqlite.insight import CHUNK, SEND_COLUMNS, send_record

if TYPE_CHECKING:
    from delivrd.store.postgres.store import PostgresStore

# ON CONFLICT DO NOTHING without a target: either unique index (sid+mobile, or a refused
# number's mobile+sent_at) makes a send already registered
INSERT_SENDS = """
INSERT INTO sends (sid, phone, nationcode, mobile, sent_at, template_id, sign_name, fee, session_context, code,
                   message, iso_code, registered_at)
SELECT *, $13 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],
                          $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[])
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


class PostgresInsight:
    """register_sends, sends, messages and stats for PostgresStore."""

    async def register_sends(self: "PostgresStore", sends: Sequence[Send]) -> int:
        from delivrd.store.postgres.store import FAILURES, _columns, _reason

        rows = [
            (s.sid, s.phone, s.nationcode, s.mobile, s.sent_at, s.template_id, s.sign_name, s.fee,
             s.session_context, s.code, s.message, s.iso_code)
            for s in sends
        ]  # fmt: skip
        try:
            new = await self._get_pool().fetchval(REGISTER_SENDS, *_columns(rows, 12), clock.now_micros())
        except FAILURES as exc:
            raise StoreError(f"PostgreSQL commit failed: {_reason(exc)}") from exc
        return new

    async def sends(self: "PostgresStore", query: SendQuery) -> list[SendRecord]:
        where, args = [], []
        for column, value in (("sid", query.sid), ("nationcode", query.nationcode), ("mobile", query.mobile)):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        sql = f"SELECT {SEND_COLUMNS} FROM sends"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY sent_at DESC, id DESC LIMIT ${len(args) + 1}"
        return [send_record(r) for r in await self._fetch(sql, *args, query.limit)]

    async def messages(self: "PostgresStore", query: MessageQuery) -> AsyncIterator[list[MessageRow]]:
        from delivrd.store.postgres.store import FAILURES, _reason

        try:
            async with self._get_pool().acquire() as conn, conn.transaction(readonly=True):
                cursor = await conn.cursor(MESSAGES, *insight_sql.message_args(query))
                while rows := await cursor.fetch(CHUNK):
                    yield [MessageRow(*r) for r in rows]
        except FAILURES as exc:
            raise StoreError(f"PostgreSQL read failed: {_reason(exc)}") from exc

    async def stats(self: "PostgresStore", query: StatsQuery) -> list[StatsRow]:
        sql = insight_sql.numbered(insight_sql.stats_sql(query.by))
        return insight_sql.stats_rows(await self._fetch(sql, *insight_sql.stats_args(query)))
