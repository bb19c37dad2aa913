"""The read side every SQL backend shares: filters, keyset pages, the list methods, sends, statistics.

Written once with `?` placeholders; a backend supplies `_rows`, which runs one SELECT
(rewriting the placeholders if its driver numbers them), and a `ReportSource`, the only
part of reading that differs between the databases: where reports come from, how a
mobile is found, and which order keeps the planner on the right index.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from delivrd.store import columns, rollup_sql
from delivrd.store.base import (
    InboxRow,
    ListQuery,
    Page,
    RejectRow,
    ReplyRow,
    ReportQuery,
    ReportRow,
    SendQuery,
    SendRow,
    StatsQuery,
    StatsRow,
)

Row = TypeVar("Row")


SELECT_REPLIES = f"SELECT {columns.REPLIES.select()} FROM replies"
SELECT_REJECTS = f"SELECT {columns.REJECTS.select()} FROM rejects"
SELECT_INBOX = f"SELECT {columns.INBOX.select()} FROM inbox"
SELECT_SENDS = f"SELECT {columns.SENDS.select()} FROM sends"


@dataclass(frozen=True, slots=True)
class ReportSource:
    """How one backend reads reports."""

    #: `SELECT <the report columns> FROM <reports, and whatever it joins>`
    select: str
    #: what qualifies a column of `reports` in `select` ("r." when it is aliased)
    prefix: str
    #: the WHERE term that finds the reports of one mobile, and how many times it binds the mobile
    mobile: str
    mobile_binds: int
    #: ORDER BY (descending) in general, and when a sid or mobile narrows the search to a few rows
    order: str
    narrow_order: str


def equal_terms(prefix: str, *equal: tuple[str, Any]) -> tuple[list[str], list[Any]]:
    """WHERE terms for the equality filters given (a None value filters nothing)."""
    where = [f"{prefix}{column} = ?" for column, value in equal if value is not None]
    return where, [value for _, value in equal if value is not None]


def filters(query: ReportQuery | ListQuery, prefix: str, *equal: tuple[str, Any]) -> tuple[list[str], list[Any]]:
    """WHERE terms for the equality filters given and the time/keyset filters every query has."""
    where, args = equal_terms(prefix, *equal)
    for term, value in (
        ("received_at >= ?", query.since),
        ("received_at < ?", query.until),
        ("id < ?", query.before_id),
    ):
        if value is not None:
            where.append(prefix + term)
            args.append(value)
    return where, args


class SQLReads(abc.ABC):
    """reports, replies, rejects, inbox, sends and stats, for a backend that runs SQL."""

    reports_from: ReportSource

    @abc.abstractmethod
    async def _rows(self, sql: str, args: Sequence[Any]) -> Sequence[Sequence[Any]]:
        """Run one SELECT written with `?` placeholders; StoreError if the database cannot answer."""

    async def _page(
        self, select: str, where: list[str], args: list[Any], order: str, limit: int, make: Callable[..., Row]
    ) -> Page[Row]:
        """Newest first by `order` (the id, or an expression of it); one row more than `limit` tells if more follow.

        `make` is the row's record, built from the columns in its field order (`columns`, each table's `read`)."""
        sql = select + (" WHERE " + " AND ".join(where) if where else "") + f" ORDER BY {order} DESC LIMIT ?"
        found = await self._rows(sql, [*args, limit + 1])
        items = [make(*r) for r in found[:limit]]
        return Page(items, found[limit - 1][0] if len(found) > limit else None)

    async def reports(self, query: ReportQuery) -> Page[ReportRow]:
        source = self.reports_from
        where, args = filters(
            query,
            source.prefix,
            ("sid", query.sid),
            ("nationcode", query.nationcode),
            ("report_status", query.report_status),
            ("errmsg", query.errmsg),
        )
        if query.mobile is not None:
            where.insert(0, source.mobile)
            args[:0] = [query.mobile] * source.mobile_binds
        narrow = query.sid is not None or query.mobile is not None
        order = source.narrow_order if narrow else source.order
        return await self._page(source.select, where, args, order, query.limit, ReportRow)

    async def replies(self, query: ListQuery) -> Page[ReplyRow]:
        where, args = filters(query, "", ("mobile", query.mobile))
        return await self._page(SELECT_REPLIES, where, args, "id", query.limit, ReplyRow)

    async def rejects(self, query: ListQuery) -> Page[RejectRow]:
        where, args = filters(query, "", ("route", query.route))
        return await self._page(SELECT_REJECTS, where, args, "id", query.limit, RejectRow)

    async def inbox(self, query: ListQuery) -> Page[InboxRow]:
        where, args = filters(query, "", ("route", query.route), ("outcome", query.outcome))
        return await self._page(SELECT_INBOX, where, args, "id", query.limit, InboxRow)

    async def sends(self, query: SendQuery) -> list[SendRow]:
        """Registered sends matching every filter given, newest `sent_at` first."""
        where, args = equal_terms("", ("sid", query.sid), ("nationcode", query.nationcode), ("mobile", query.mobile))
        sql = SELECT_SENDS
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY sent_at DESC, id DESC LIMIT ?"
        return [SendRow(*r) for r in await self._rows(sql, [*args, query.limit])]

    async def stats(self, query: StatsQuery) -> list[StatsRow]:
        """The messages of `query` counted by (key, state, code, latency_s), in SQL."""
        out: list[StatsRow] = []
        for part in rollup_sql.plan(query):
            out += rollup_sql.rows(part, await self._rows(part.sql, part.args))
        return out
