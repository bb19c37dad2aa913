"""Personal data on PostgreSQL: erasing one phone number everywhere it is kept, and dropping old inbox bodies.

Which inbox bodies an erasure masks, without reading the whole inbox (it can be many gigabytes):
- the bodies its report, reply and reject rows came in (their `inbox_id` and `received_at`, which is also the
  inbox row's, so each is found in its own day partition);
- the bodies received within `RETRY_WINDOW` after each of its reports and replies that hold its digits: a retry
  (or a reconciled copy) of a push is counted as a duplicate of the row first stored (`report_keys`), which
  keeps the first body's id only, so the later bodies are found by time (the day partitions and
  `inbox_received_at`) and then by content;
- the bodies never read as items (not JSON, cut short, refused by the store, or stored unauthenticated by an
  earlier version), which may hold the number with no row pointing at them: the partial index `inbox_unread`
  holds only those.
A body outside these (a retry more than `RETRY_WINDOW` later, after its first copy) keeps the number; the
window is a bound on the work, and Tencent retries within minutes.

The search runs before the erasing transaction (`candidates`); `purge` deletes and masks in one transaction.
The old row versions stay in the table files until VACUUM reclaims them (autovacuum does, in time), and in the
WAL and its archives: docs/personal-data.md says so.
"""

from __future__ import annotations

import asyncpg

from delivrd.domain.erasure import ERASED_MOBILE, UNREAD, Masker, forms, mine, retry_windows
from delivrd.domain.event_types import OF_REPLIES, OF_REPORTS
from delivrd.store import optout_sql
from delivrd.store.insight_sql import numbered

#: inbox bodies set to NULL per transaction (retention of bodies)
BODIES_BATCH = 5000
#: an inbox row's key: (id, received_at), the partition key being part of it
Key = tuple[int, int]


async def _rows(conn: asyncpg.Connection, table: str, columns: str, nationcode: str, mobile: str) -> list[tuple]:
    """`columns` of the number's rows of `table`, found through its index on mobile."""
    rows = await conn.fetch(
        f"SELECT {columns}, mobile AS mobile_, nationcode AS nationcode_ FROM {table} WHERE mobile = ANY($1::text[])",
        list(forms(nationcode, mobile)),
    )
    return [tuple(r)[:-2] for r in rows if mine(nationcode, mobile, r["mobile_"], r["nationcode_"])]


async def candidates(conn: asyncpg.Connection, nationcode: str, mobile: str) -> set[Key]:
    """Inbox rows whose bodies may hold the number (see the module's docstring); read-only."""
    digits = mobile.encode()
    times = [r[0] for r in await _rows(conn, "reports", "received_at", nationcode, mobile)]
    times += [r[0] for r in await _rows(conn, "replies", "received_at", nationcode, mobile)]
    found: set[Key] = set()
    for since, until in retry_windows(times):
        rows = await conn.fetch(
            "SELECT id, received_at FROM inbox WHERE received_at >= $1 AND received_at < $2"
            " AND position($3::bytea IN body) > 0",
            since,
            until,
            digits,
        )
        found.update((r[0], r[1]) for r in rows)
    rows = await conn.fetch(
        f"SELECT id, received_at FROM inbox WHERE {UNREAD} AND position($1::bytea IN body) > 0", digits
    )
    found.update((r[0], r[1]) for r in rows)
    return found


def _count(status: str) -> int:
    """The row count of a command's status (`DELETE 3`, `UPDATE 1`)."""
    return int(status.rpartition(" ")[2])


async def purge(conn: asyncpg.Connection, nationcode: str, mobile: str, inbox: set[Key]) -> dict[str, int]:
    """Erase the number in one transaction; how many rows, by table."""
    async with conn.transaction():
        return await _purge(conn, nationcode, mobile, set(inbox))


async def _purge(conn: asyncpg.Connection, nationcode: str, mobile: str, inbox: set[Key]) -> dict[str, int]:
    masker = Masker(nationcode, mobile)
    reports = await _rows(conn, "reports", "id, received_at, sid, dedup_key, mobile, inbox_id", nationcode, mobile)
    replies = await _rows(conn, "replies", "id, inbox_id, received_at", nationcode, mobile)
    sends = await _rows(conn, "sends", "id, sid, mobile, sent_at", nationcode, mobile)
    removed_reports = _count(
        await conn.execute(
            "DELETE FROM reports WHERE (id, received_at) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))",
            [r[0] for r in reports],
            [r[1] for r in reports],
        )
    )
    keys = _count(
        await conn.execute(
            "DELETE FROM report_keys WHERE (sid, dedup_key) IN (SELECT * FROM unnest($1::text[], $2::bytea[]))",
            [r[2] for r in reports],
            [r[3] for r in reports],
        )
    )
    removed_replies = _count(
        await conn.execute("DELETE FROM replies WHERE id = ANY($1::bigint[])", [r[0] for r in replies])
    )
    removed_sends = _count(await conn.execute("DELETE FROM sends WHERE id = ANY($1::bigint[])", [s[0] for s in sends]))
    # the messages stay (every count stays right), their number replaced: found by their unique (sid, mobile)
    erase = f"UPDATE messages SET mobile = '{ERASED_MOBILE}' || id"
    pairs = sorted({(r[2], r[4]) for r in reports} | {(s[1], s[2]) for s in sends if s[1] is not None})
    messages = _count(
        await conn.execute(
            f"{erase} WHERE (sid, mobile) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
            [p[0] for p in pairs],
            [p[1] for p in pairs],
        )
    )
    refused = sorted({(s[2], s[3]) for s in sends if s[1] is None})
    messages += _count(
        await conn.execute(
            f"{erase} WHERE sid IS NULL AND (mobile, at) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))",
            [r[0] for r in refused],
            [r[1] for r in refused],
        )
    )
    rejects = 0
    for reject in await conn.fetch(
        "SELECT id, inbox_id, received_at, raw, reason FROM rejects WHERE strpos(raw, $1) > 0 OR strpos(reason, $1) > 0",
        mobile,
    ):
        raw, reason = reject["raw"], reject["reason"]
        masked = (None if raw is None else masker.mask_text(raw), masker.mask_text(reason))
        if masked != (raw, reason):
            await conn.execute("UPDATE rejects SET raw = $1, reason = $2 WHERE id = $3", *masked, reject["id"])
            rejects += 1
            inbox.add((reject["inbox_id"], reject["received_at"]))
    inbox.update((r[5], r[1]) for r in reports)
    inbox.update((r[1], r[2]) for r in replies)
    masked_bodies = 0
    for inbox_id, received_at in sorted(inbox):
        body = await conn.fetchval(
            "SELECT body FROM inbox WHERE id = $1 AND received_at = $2 FOR UPDATE", inbox_id, received_at
        )
        if body is not None and masker.digits in body:
            masked_body = masker.mask_bytes(body)
            if masked_body != body:
                await conn.execute(
                    "UPDATE inbox SET body = $1 WHERE id = $2 AND received_at = $3", masked_body, inbox_id, received_at
                )
                masked_bodies += 1
    events = await _drop_queued_events(conn, [r[0] for r in reports], [r[0] for r in replies])
    # the opt-out stays, without the number (optout_sql.suppress)
    kept = [
        _count(await conn.execute(numbered(sql), *args)) for sql, args in optout_sql.suppress(f"+{nationcode}{mobile}")
    ]
    return {
        "events": events,
        "optouts": kept[1],
        "optout_changes": kept[2],
        "reports": removed_reports,
        "report_keys": keys,
        "replies": removed_replies,
        "sends": removed_sends,
        "messages": messages,
        "rejects": rejects,
        "inbox": masked_bodies,
    }


async def drop_bodies(conn: asyncpg.Connection, before: int) -> tuple[int, bool]:
    """Set to NULL up to BODIES_BATCH inbox bodies received before `before`, from where the last run stopped, in
    one transaction: how many, and whether all are done. The rows stay (what came of each push is still shown)."""
    async with conn.transaction():
        start = await conn.fetchval("SELECT before FROM inbox_bodies_dropped FOR UPDATE")
        rows = await conn.fetch(
            "SELECT id, received_at FROM inbox WHERE received_at >= $1 AND received_at < $2 ORDER BY received_at"
            " LIMIT $3",
            start,
            before,
            BODIES_BATCH,
        )
        # the batch's time range too, so that only its day partitions are visited
        dropped = _count(
            await conn.execute(
                "UPDATE inbox SET body = NULL WHERE (id, received_at) IN"
                " (SELECT * FROM unnest($1::bigint[], $2::bigint[])) AND body IS NOT NULL"
                " AND received_at >= $3 AND received_at <= $4",
                [r[0] for r in rows],
                [r[1] for r in rows],
                rows[0][1] if rows else 0,
                rows[-1][1] if rows else 0,
            )
        )
        finished = len(rows) < BODIES_BATCH
        # a full batch may stop inside one moment: the next one starts at that moment (its done rows are
        # skipped by `body IS NOT NULL`), after it when the whole batch was that moment
        reached = before if finished else rows[-1][1]
        if not finished and reached == start:
            dropped += _count(
                await conn.execute("UPDATE inbox SET body = NULL WHERE received_at = $1 AND body IS NOT NULL", start)
            )
            reached = start + 1
        await conn.execute("UPDATE inbox_bodies_dropped SET before = greatest(before, $1)", reached)
    return dropped, finished


async def _drop_queued_events(conn: asyncpg.Connection, report_ids: list[int], reply_ids: list[int]) -> int:
    """The events of the erased reports and replies that some endpoint has yet to get (from the lowest cursor's
    transaction on, or waiting for a retry): dropped, so none goes out after the erasure."""
    low = await conn.fetchval("SELECT min(cursor_xid) FROM endpoints")
    if low is None:
        return 0
    dropped = 0
    for types, ids in ((list(OF_REPORTS), report_ids), (list(OF_REPLIES), reply_ids)):
        await conn.execute(
            "DELETE FROM deliveries WHERE seq IN (SELECT d.seq FROM deliveries d JOIN events e ON e.seq = d.seq"
            " WHERE e.type = ANY($1::text[]) AND e.ref = ANY($2::bigint[]))",
            types,
            ids,
        )
        dropped += _count(
            await conn.execute(
                "DELETE FROM events WHERE xid >= $1::bigint::text::xid8 AND type = ANY($2::text[])"
                " AND ref = ANY($3::bigint[])",
                low,
                types,
                ids,
            )
        )
    return dropped
