"""The storage interface the writer and the read API use; each backend implements it."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Sequence

from delivrd.models import Page
from delivrd.push import Push


class StoreError(Exception):
    """Storage could not do what was asked (the caller answers 503, never 500)."""


@dataclass(frozen=True, slots=True)
class ReportQuery:
    sid: str | None = None
    mobile: str | None = None
    nationcode: str | None = None
    report_status: str | None = None
    errmsg: str | None = None
    since: int | None = None  # microseconds, inclusive
    until: int | None = None  # microseconds, exclusive
    limit: int = 100
    before_id: int | None = None  # keyset cursor: only ids below this


@dataclass(frozen=True, slots=True)
class ListQuery:
    """Filters shared by the rejects, replies and inbox listings."""

    route: str | None = None
    outcome: str | None = None
    mobile: str | None = None
    since: int | None = None
    until: int | None = None
    limit: int = 100
    before_id: int | None = None


class Store(abc.ABC):
    """Durable storage. `write` commits a group of pushes in one transaction."""

    #: which migrations folder (`store/migrations/<dialect>/`) this backend uses
    dialect: str

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, and create or migrate the schema as `migrations.prepare` allows; StoreError if not."""

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The database's schema version (0: no delivrd schema yet); works without `open`."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def write(self, pushes: Sequence[Push]) -> None:
        """Store every push (inbox row, reports or replies, rejects) and commit, or raise StoreError."""

    @abc.abstractmethod
    async def prune(self, before: int) -> None:
        """Remove what was received before `before` (microseconds), a little at a time (retention)."""

    async def maintain(self) -> None:
        """Periodic upkeep while serving (PostgreSQL creates the coming days' partitions)."""

    @abc.abstractmethod
    async def ping(self) -> None: ...

    @abc.abstractmethod
    async def counters(self) -> dict[str, int]: ...

    @abc.abstractmethod
    async def reports(self, query: ReportQuery) -> Page: ...

    @abc.abstractmethod
    async def replies(self, query: ListQuery) -> Page: ...

    @abc.abstractmethod
    async def rejects(self, query: ListQuery) -> Page: ...

    @abc.abstractmethod
    async def inbox(self, query: ListQuery) -> Page: ...
