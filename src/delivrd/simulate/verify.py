"""Check a ledger against the read API: every acked report stored, and stored exactly once.

Two ways to read: page through all of `GET /v1/reports` (1000 a page; best when the
database holds mostly this run), or look each ledger sid up with `?sid=` (best when
the database is much larger than the ledger). Either way a ledger entry is matched
on `sid`, `mobile` and `report_status`; rows that are in no ledger are ignored.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from delivrd.simulate.ledger import Entry

PAGE = 1000


class ReadError(Exception):
    """The read API did not answer as documented (wrong URL, API key, not delivrd…)."""


@dataclass
class Verdict:
    expected: int  # distinct reports in the ledger
    read: int  # reports read from the API
    missing: list[Entry] = field(default_factory=list)
    doubled: dict[Entry, int] = field(default_factory=dict)  # entry → how many rows match it

    @property
    def ok(self) -> bool:
        return not self.missing and not self.doubled

    def as_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "read": self.read,
            "missing": [e._asdict() for e in self.missing],
            "doubled": [{**e._asdict(), "stored": n} for e, n in self.doubled.items()],
            "ok": self.ok,
        }


def _key(item: dict[str, Any]) -> Entry:
    return Entry(str(item.get("sid")), str(item.get("mobile")), str(item.get("report_status")))


async def _get(client: httpx.AsyncClient, params: dict[str, Any]) -> dict[str, Any]:
    try:
        response = await client.get("/v1/reports", params=params)
    except httpx.TransportError as exc:
        raise ReadError(f"cannot reach {client.base_url}: {exc}") from None
    if response.status_code != 200:
        raise ReadError(
            f"GET {response.url} answered {response.status_code}: {response.text[:200]}{_hint(client, response)}"
        )
    try:
        page = response.json()
        page["items"]
    except (ValueError, KeyError, TypeError):
        raise ReadError(f"GET {response.url} did not answer a report listing: {response.text[:200]}") from None
    return page


def _hint(client: httpx.AsyncClient, response: httpx.Response) -> str:
    """On a 404 under a base URL with a path (the callback URL, say): the base URL to give instead."""
    if response.status_code != 404 or client.base_url.path in ("", "/"):
        return ""
    origin = str(client.base_url.copy_with(path="/", query=None)).rstrip("/")
    return f" (--url is the read API's base URL, without a path: {origin})"


async def _count_pages(client: httpx.AsyncClient, params: dict, wanted: set[Entry], counts: Counter) -> int:
    """Page through GET /v1/reports with `params`, counting the wanted entries; returns how many items were read."""
    read, cursor = 0, None
    while True:
        page = await _get(client, {**params, "limit": PAGE, **({"cursor": cursor} if cursor else {})})
        for item in page["items"]:
            key = _key(item)
            if key in wanted:
                counts[key] += 1
        read += len(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return read


async def _count_by_sid(client: httpx.AsyncClient, wanted: set[Entry], counts: Counter, parallel: int) -> int:
    gate = asyncio.Semaphore(parallel)

    async def one(sid: str) -> int:
        async with gate:
            return await _count_pages(client, {"sid": sid}, wanted, counts)

    return sum(await asyncio.gather(*(one(sid) for sid in sorted({e.sid for e in wanted}))))


async def verify(
    entries: list[Entry],
    base_url: str,
    *,
    api_key: str | None = None,
    by_sid: bool = False,
    timeout: float = 30.0,
    parallel: int = 16,
) -> Verdict:
    """Read the receiver's reports and compare them with the ledger's `entries`."""
    wanted = set(entries)
    counts: Counter = Counter()
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout) as client:
        if by_sid:
            read = await _count_by_sid(client, wanted, counts, parallel)
        else:
            read = await _count_pages(client, {}, wanted, counts)
    ordered = list(dict.fromkeys(entries))  # ledger order, each once
    return Verdict(
        expected=len(wanted),
        read=read,
        missing=[e for e in ordered if counts[e] == 0],
        doubled={e: counts[e] for e in ordered if counts[e] > 1},
    )
