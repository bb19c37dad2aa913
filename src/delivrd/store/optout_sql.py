"""The opt-out list's SQL and rules that both backends share: what a change is stored as, when a change changes
anything, which replies make one, and the reads (`OptOutReads`, beside `SQLReads`).

A backend adds only how it takes its lock and runs the statements (`store/sqlite/optouts.py`,
`store/postgres/optouts.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from delivrd.domain import erasure, unsubscribe
from delivrd.store.base import OptOutChange, OptOutQuery, OptOutRow, Page
from delivrd.store.reads import SQLReads

#: a change's columns as `OptOutChange` names them, in the order `change_values` gives them
WRITTEN = ("phone", "nationcode", "mobile", "action", "source", "sign", "extend", "reply_id", "note", "at")
INSERT_CHANGE = f"INSERT INTO optout_changes ({', '.join(WRITTEN)}) VALUES ({', '.join('?' * len(WRITTEN))})"
SET_CURRENT = "INSERT INTO optouts (phone, change_id) VALUES (?, ?) ON CONFLICT (phone) DO UPDATE SET change_id = excluded.change_id"
CLEAR_CURRENT = "DELETE FROM optouts WHERE phone = ?"
#: a number erased and back (it replied again, or is listed by hand): the entry kept under its hash
#: (`erasure.suppressed`) is the number's own again, before its change is settled
RECLAIM = "UPDATE optouts SET phone = ? WHERE phone = ?"


def reclaimed(phones: Sequence[str]) -> list[tuple[str, str]]:
    """RECLAIM's arguments for `phones`."""
    return [(phone, erasure.suppressed(phone)) for phone in phones]


#: what a reply needs to become a change (`from_replies` reads the columns by position)
PENDING_COLUMNS = "id, phone, nationcode, mobile, sign, extend, text, received_at"

SELECT_CHANGES = f"SELECT {', '.join(('id', *WRITTEN))} FROM optout_changes"
SELECT_CURRENT = (
    f"SELECT {', '.join('c.' + name for name in ('id', *WRITTEN))}"
    " FROM optouts o JOIN optout_changes c ON c.id = o.change_id"
)

assert OptOutRow._fields == ("id", *WRITTEN) and tuple(OptOutChange.__dataclass_fields__) == (
    "phone",
    "nationcode",
    "mobile",
    "action",
    "source",
    "at",
    "sign",
    "extend",
    "reply_id",
    "note",
)


def change_values(change: OptOutChange) -> tuple[Any, ...]:
    return tuple(getattr(change, name) for name in WRITTEN)


def from_replies(replies: Iterable[Sequence[Any]], classify: Callable[[str | None], str | None]) -> list[OptOutChange]:
    """The changes pending replies ask for, in reply order: those whose text is a keyword and whose number is
    a phone number (a masked `mobile` has no E.164 and cannot be listed)."""
    changes = []
    for reply_id, phone, nationcode, mobile, sign, extend, text, received_at in replies:
        action = classify(text)
        if action is None or phone is None or nationcode is None:
            continue
        changes.append(
            OptOutChange(
                phone,
                nationcode,
                mobile,
                action,
                unsubscribe.REPLY,
                received_at,
                sign=sign,
                extend=extend,
                reply_id=reply_id,
                note=text,
            )
        )
    return changes


def settle(changes: Sequence[OptOutChange], listed: set[str]) -> list[OptOutChange | None]:
    """`changes` applied in order to the numbers `listed` now (updated in place): each change that changes its
    number's status, or None for one that does not (added when already on the list, removed when not on it)."""
    kept: list[OptOutChange | None] = []
    for change in changes:
        on = change.phone in listed
        if (change.action == unsubscribe.ADDED) == on:
            kept.append(None)
            continue
        (listed.add if change.action == unsubscribe.ADDED else listed.discard)(change.phone)
        kept.append(change)
    return kept


def suppress(phone: str) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements that keep an erased number's opt-out without the number (`erasure.suppressed`): its
    changes and its entry on the list now; the changes' notes (a reply's text) dropped, and the reply each came
    from (erased with the number; SQLite may give its id to a later reply)."""
    kept = erasure.suppressed(phone)
    return [
        # erased before, and listed again since: the entry under the number replaces the one under its hash
        (
            "DELETE FROM optouts WHERE phone = ? AND EXISTS (SELECT 1 FROM optouts WHERE phone = ?)",
            (kept, phone),
        ),
        ("UPDATE optouts SET phone = ? WHERE phone = ?", (kept, phone)),
        (
            f"UPDATE optout_changes SET phone = ?, mobile = '{erasure.ERASED_MOBILE}', note = NULL, reply_id = NULL"
            " WHERE phone = ?",
            (kept, phone),
        ),
    ]


def _where(query: OptOutQuery, prefix: str) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if query.phone is not None:  # the number, or what its opt-out became if it was erased
        where.append(f"{prefix}phone IN (?, ?)")
        args.extend((query.phone, erasure.suppressed(query.phone)))
    for term, value in (
        ("source = ?", query.source),
        ("sign = ?", query.sign),
        ("extend = ?", query.extend),
        ("action = ?", query.action),
        ("at >= ?", query.since),
        ("at < ?", query.until),
        ("id < ?", query.before_id),
    ):
        if value is not None:
            where.append(prefix + term)
            args.append(value)
    return where, args


class OptOutReads(SQLReads):
    """The list now and its history, for a backend that runs SQL (`SQLReads._page`)."""

    async def optouts(self, query: OptOutQuery) -> Page[OptOutRow]:
        where, args = _where(query, "c.")
        return await self._page(SELECT_CURRENT, where, args, "c.id", query.limit, OptOutRow)

    async def optout_changes(self, query: OptOutQuery) -> Page[OptOutRow]:
        where, args = _where(query, "")
        return await self._page(SELECT_CHANGES, where, args, "id", query.limit, OptOutRow)
