"""The opt-out list on SQLite: its writes on the writer thread, each one transaction (`store/optout_sql.py`).

SQLite has one writer, so a change's id order is its commit order without more ado, and a reply is looked at
by one transaction only: the one that clears its `optout_pending`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from delivrd.domain import unsubscribe
from delivrd.store import optout_sql
from delivrd.store.base import OptOutChange, OptOutRow, StoreError
from delivrd.store.sqlite.connect import Connection, Error, closed, immediate

T = TypeVar("T")

PENDING = f"SELECT {optout_sql.PENDING_COLUMNS} FROM replies WHERE optout_pending = 1 ORDER BY id LIMIT ?"
LOOKED_AT = "UPDATE replies SET optout_pending = 0 WHERE id = ?"


class SQLiteOptOuts(optout_sql.OptOutReads):
    """`base.OptOuts` for `SQLiteStore`, which supplies the write connection and its thread."""

    _conn: Connection | None

    @abc.abstractmethod
    async def _on_writer(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def apply_replies(self, classify: Callable[[str | None], str | None], limit: int = 500) -> int:
        return await self._optout_write(self._apply_replies, classify, limit)

    async def change_optouts(self, changes: Sequence[OptOutChange]) -> list[OptOutRow | None]:
        return await self._optout_write(self._change, changes)

    async def _optout_write(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await self._on_writer(fn, *args)
        except Error as exc:
            raise StoreError(f"SQLite commit failed: {exc}") from exc

    def _apply_replies(self, classify: Callable[[str | None], str | None], limit: int) -> int:
        conn = self._write_conn()
        with immediate(conn):
            replies = conn.execute(PENDING, (limit,)).fetchall()
            _append(conn, optout_sql.from_replies(replies, classify))
            conn.executemany(LOOKED_AT, [(reply[0],) for reply in replies])
        return len(replies)

    def _change(self, changes: Sequence[OptOutChange]) -> list[OptOutRow | None]:
        conn = self._write_conn()
        with immediate(conn):
            return _append(conn, changes)

    def _write_conn(self) -> Connection:
        if self._conn is None:
            raise closed()
        return self._conn


def _append(conn: Connection, changes: Sequence[OptOutChange]) -> list[OptOutRow | None]:
    """Store the changes that change something, in order, and keep `optouts` in step (inside the caller's
    transaction)."""
    phones = sorted({change.phone for change in changes})
    conn.executemany(optout_sql.RECLAIM, optout_sql.reclaimed(phones))
    listed: set[str] = {
        str(row[0])
        for row in conn.execute(
            f"SELECT phone FROM optouts WHERE phone IN ({', '.join('?' * len(phones))})", phones
        ).fetchall()
    }
    stored: list[OptOutRow | None] = []
    for change in optout_sql.settle(changes, listed):
        if change is None:
            stored.append(None)
            continue
        values = optout_sql.change_values(change)
        conn.execute(optout_sql.INSERT_CHANGE, values)
        change_id = conn.last_insert_rowid()
        if change.action == unsubscribe.ADDED:
            conn.execute(optout_sql.SET_CURRENT, (change.phone, change_id))
        else:
            conn.execute(optout_sql.CLEAR_CURRENT, (change.phone,))
        stored.append(OptOutRow(change_id, *values))
    return stored
