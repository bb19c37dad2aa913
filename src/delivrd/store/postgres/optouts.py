"""The opt-out list on PostgreSQL, where several processes write at once (`store/optout_sql.py`).

Every transaction that appends a change first takes one transaction-scoped advisory lock, and holds it until
it commits. So changes are made one transaction at a time: a number's status is read and changed without a
race, and the ids of `optout_changes` become visible in increasing order (a sequence id taken by a
transaction that commits later can never be below one already visible), which lets a reader follow the
history with a watermark on `id` (forwarding's `optout.added` / `optout.removed`) without skipping a row.

Replies are looked at by whichever process gets the lock (`pg_try_advisory_xact_lock`: the others skip the
round, the holder does the work); `optout_pending` is cleared in the same transaction as the changes it made,
so a reply is looked at exactly once, whatever the order in which concurrent writers committed the replies.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from delivrd.domain import unsubscribe
from delivrd.store import insight_sql, optout_sql
from delivrd.store.base import OptOutChange, OptOutRow, StoreError
from delivrd.store.insight_sql import numbered

LOCK = "hashtext(current_schema() || '.delivrd_optouts')"
PENDING = f"SELECT {optout_sql.PENDING_COLUMNS} FROM replies WHERE optout_pending ORDER BY id LIMIT $1"
LOOKED_AT = "UPDATE replies SET optout_pending = false WHERE id = ANY($1::bigint[])"
INSERT_CHANGE = insight_sql.numbered(optout_sql.INSERT_CHANGE) + " RETURNING id"
SET_CURRENT = insight_sql.numbered(optout_sql.SET_CURRENT)
CLEAR_CURRENT = insight_sql.numbered(optout_sql.CLEAR_CURRENT)
FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class PostgresOptOuts(optout_sql.OptOutReads):
    """`base.OptOuts` for `PostgresStore`, which supplies the pool."""

    where: str

    @abc.abstractmethod
    def _get_pool(self) -> asyncpg.Pool: ...

    async def apply_replies(self, classify: Callable[[str | None], str | None], limit: int = 500) -> int:
        try:
            async with self._get_pool().acquire() as conn, conn.transaction():
                if not await conn.fetchval(f"SELECT pg_try_advisory_xact_lock({LOCK})"):
                    return 0  # another process is at it: it will look at these replies
                replies = await conn.fetch(PENDING, limit)
                if replies:
                    await _append(conn, optout_sql.from_replies(replies, classify))
                    await conn.execute(LOOKED_AT, [reply[0] for reply in replies])
                return len(replies)
        except FAILURES as exc:
            raise StoreError(f"applying replies to the opt-out list in {self.where} failed: {exc}") from exc

    async def change_optouts(self, changes: Sequence[OptOutChange]) -> list[OptOutRow | None]:
        try:
            async with self._get_pool().acquire() as conn, conn.transaction():
                await conn.execute(f"SELECT pg_advisory_xact_lock({LOCK})")
                return await _append(conn, changes)
        except FAILURES as exc:
            raise StoreError(f"changing the opt-out list in {self.where} failed: {exc}") from exc


async def _append(conn: Any, changes: Sequence[OptOutChange]) -> list[OptOutRow | None]:
    """Store the changes that change something, in order, and keep `optouts` in step (inside the caller's
    transaction, under the lock)."""
    phones = sorted({change.phone for change in changes})
    await conn.executemany(numbered(optout_sql.RECLAIM), optout_sql.reclaimed(phones))
    listed = {row[0] for row in await conn.fetch("SELECT phone FROM optouts WHERE phone = ANY($1::text[])", phones)}
    stored: list[OptOutRow | None] = []
    for change in optout_sql.settle(changes, listed):
        if change is None:
            stored.append(None)
            continue
        values = optout_sql.change_values(change)
        change_id = await conn.fetchval(INSERT_CHANGE, *values)
        if change.action == unsubscribe.ADDED:
            await conn.execute(SET_CURRENT, change.phone, change_id)
        else:
            await conn.execute(CLEAR_CURRENT, change.phone)
        stored.append(OptOutRow(change_id, *values))
    return stored
