"""Personal data on SQLite: erasing one phone number everywhere it is kept, and dropping old inbox bodies.

Which inbox bodies an erasure masks, without reading the whole inbox (it can be many gigabytes):
- the bodies its report, reply and reject rows came in (their `inbox_id`);
- the bodies received within `RETRY_WINDOW` after each of its reports and replies that hold its digits: a retry
  (or a reconciled copy) of a push is counted as a duplicate of the row first stored, which keeps the first
  body's id only, so the later bodies are found by time (the `inbox_received_at` index) and then by content;
- the bodies never read as items (not JSON, cut short, refused by the store, or stored unauthenticated by an
  earlier version), which may hold the number with no row pointing at them: the partial index `inbox_unread`
  holds only those, so finding them costs nothing on the write path and little here.
A body outside these (a retry more than `RETRY_WINDOW` later, after its first copy) keeps the number; the
window is a bound on the work, and Tencent retries within minutes.

The search (bodies, and the scan of `rejects` for the digits) runs on a read connection first (`candidates`), so
the writer is not held while they are read;
`purge` then deletes and masks in one write transaction with `PRAGMA secure_delete` on, so the freed space holds
zeros rather than the number, and checkpoints the WAL with TRUNCATE so the old page images leave the -wal file.
"""

from __future__ import annotations

import logging
from typing import Any

from delivrd.domain.erasure import ERASED_MOBILE, UNREAD, Masker, forms, mine, retry_windows
from delivrd.domain.event_types import OF_REPLIES, OF_REPORTS
from delivrd.store import optout_sql
from delivrd.store.sqlite import mobiles
from delivrd.store.sqlite.connect import BUSY_TIMEOUT_MS, Connection, immediate

log = logging.getLogger("delivrd.store.sqlite.erasure")

#: how long the checkpoint after an erasure waits for readers before leaving the -wal to a later checkpoint
CHECKPOINT_WAIT_MS = 1000
#: inbox bodies whose body is set to NULL per transaction (retention of bodies)
BODIES_BATCH = 1000


def _reports(conn: Connection, nationcode: str, mobile: str) -> list[tuple]:
    """(id, mobile, sid, inbox_id, received_at) of the number's reports, through the index by mobile."""
    found = []
    for form in forms(nationcode, mobile):
        rows: list[Any] = conn.execute(
            f"SELECT id, mobile, sid, inbox_id, received_at, nationcode FROM reports WHERE {mobiles.MATCH}",
            (form, form),
        ).fetchall()
        found += [r[:5] for r in rows if mine(nationcode, mobile, r[1], r[5])]
    return found


def _by_mobile(conn: Connection, table: str, columns: str, nationcode: str, mobile: str) -> list[tuple]:
    """`columns` of the number's rows of `table` (through its index on mobile); the last two are mobile and
    nationcode, dropped from what is returned."""
    rows: list[Any] = conn.execute(
        f"SELECT {columns}, mobile, nationcode FROM {table} WHERE mobile IN (?, ?, ?)", forms(nationcode, mobile)
    ).fetchall()
    return [r[:-2] for r in rows if mine(nationcode, mobile, r[-2], r[-1])]


def candidates(conn: Connection, nationcode: str, mobile: str) -> tuple[set[int], set[int]]:
    """Inbox ids whose bodies may hold the number (see the module's docstring), and the ids of the rejects whose
    text holds its digits (a scan of `rejects`, done here rather than under the write lock); read-only."""
    digits = mobile.encode()
    times = [r[4] for r in _reports(conn, nationcode, mobile)]
    times += [r[1] for r in _by_mobile(conn, "replies", "id, received_at", nationcode, mobile)]
    ids: set[int] = set()
    for since, until in retry_windows(times):
        ids.update(
            r[0]
            for r in conn.execute(
                "SELECT id FROM inbox WHERE received_at >= ? AND received_at < ? AND instr(body, ?) > 0",
                (since, until, digits),
            )
        )
    ids.update(
        r[0]
        for r in conn.execute(
            f"SELECT id FROM inbox INDEXED BY inbox_unread WHERE {UNREAD} AND instr(body, ?) > 0", (digits,)
        )
    )
    rejects = {
        r[0]
        for r in conn.execute(
            "SELECT id FROM rejects WHERE instr(raw, ?) > 0 OR instr(reason, ?) > 0", (mobile, mobile)
        )
    }
    return ids, rejects


def purge(conn: Connection, nationcode: str, mobile: str, found: tuple[set[int], set[int]]) -> dict[str, int]:
    """Erase the number in one transaction (secure_delete on), then checkpoint; how many rows, by table. `found`:
    what `candidates` found."""
    secure = conn.execute("PRAGMA secure_delete").get
    conn.execute("PRAGMA secure_delete = ON")
    try:
        with immediate(conn):
            counts = _purge(conn, nationcode, mobile, set(found[0]), found[1])
    finally:
        conn.execute(f"PRAGMA secure_delete = {int(secure)}")
    # TRUNCATE waits for readers on older snapshots (an export under way): briefly, since the writer waits too
    conn.set_busy_timeout(CHECKPOINT_WAIT_MS)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()[0]
    finally:
        conn.set_busy_timeout(BUSY_TIMEOUT_MS)
    if busy:  # a reader still holds an older snapshot: its pages stay in the -wal until the next checkpoint
        log.warning("after erasing a number the WAL could not be truncated (a reader was busy); it will be later")
    return counts


def _purge(conn: Connection, nationcode: str, mobile: str, inbox_ids: set[int], reject_ids: set[int]) -> dict[str, int]:
    masker = Masker(nationcode, mobile)
    reports = _reports(conn, nationcode, mobile)
    replies = _by_mobile(conn, "replies", "id, inbox_id", nationcode, mobile)
    sends = _by_mobile(conn, "sends", "id, sid, mobile, sent_at", nationcode, mobile)
    # their index rows too (not counted apart: whether the indexer behind ingest had copied them yet is chance)
    conn.executemany(
        "DELETE FROM report_mobiles WHERE bucket = ? AND mobile = ? AND report_id = ?",
        [(r[0] >> 16, r[1], r[0]) for r in reports],
    )
    conn.executemany("DELETE FROM reports WHERE id = ?", [(r[0],) for r in reports])
    # SQLite reuses ids above the highest one left: those must be in the index's tail again
    conn.execute("UPDATE report_mobiles_watermark SET id = min(id, coalesce((SELECT max(id) FROM reports), 0))")
    conn.executemany("DELETE FROM replies WHERE id = ?", [(r[0],) for r in replies])
    conn.executemany("DELETE FROM sends WHERE id = ?", [(s[0],) for s in sends])
    # the messages stay (every count stays right), their number replaced: found by their unique (sid, mobile)
    before = conn.total_changes()
    erase = f"UPDATE messages SET mobile = '{ERASED_MOBILE}' || id"
    pairs = {(r[2], r[1]) for r in reports} | {(s[1], s[2]) for s in sends if s[1] is not None}
    conn.executemany(f"{erase} WHERE sid = ? AND mobile = ?", sorted(pairs))
    refused = {(s[2], s[3]) for s in sends if s[1] is None}
    conn.executemany(f"{erase} WHERE sid IS NULL AND mobile = ? AND at = ?", sorted(refused))
    messages = conn.total_changes() - before
    rejects = 0
    digits = mobile.encode()
    found: list[Any] = [
        row
        for reject_id in sorted(reject_ids)
        for row in conn.execute("SELECT id, inbox_id, raw, reason FROM rejects WHERE id = ?", (reject_id,))
    ]
    for reject_id, inbox_id, raw, reason in found:
        masked = (None if raw is None else masker.mask_text(raw), masker.mask_text(reason))
        if masked != (raw, reason):
            conn.execute("UPDATE rejects SET raw = ?, reason = ? WHERE id = ?", (*masked, reject_id))
            rejects += 1
            inbox_ids.add(inbox_id)
    inbox_ids.update(r[3] for r in reports)
    inbox_ids.update(r[1] for r in replies)
    inbox = 0
    for inbox_id in sorted(inbox_ids):
        body: list[Any] = conn.execute("SELECT body FROM inbox WHERE id = ?", (inbox_id,)).fetchall()
        if body and body[0][0] is not None and digits in body[0][0]:
            masked_body = masker.mask_bytes(body[0][0])
            if masked_body != body[0][0]:
                conn.execute("UPDATE inbox SET body = ? WHERE id = ?", (masked_body, inbox_id))
                inbox += 1
    events = _drop_queued_events(conn, [r[0] for r in reports], [r[0] for r in replies])
    # the opt-out stays, without the number (optout_sql.suppress)
    kept = []
    for sql, args in optout_sql.suppress(f"+{nationcode}{mobile}"):
        before = conn.total_changes()
        conn.execute(sql, args)
        kept.append(conn.total_changes() - before)
    return {
        "reports": len(reports),
        "replies": len(replies),
        "sends": len(sends),
        "messages": messages,
        "rejects": rejects,
        "inbox": inbox,
        "optouts": kept[1],
        "optout_changes": kept[2],
        "events": events,
    }


def _drop_queued_events(conn: Connection, report_ids: list[int], reply_ids: list[int]) -> int:
    """The events of the erased reports and replies that some endpoint has yet to get (past the lowest cursor,
    or waiting for a retry): dropped, so none goes out after the erasure, nor names an id SQLite gives again."""
    low = conn.execute("SELECT min(cursor_seq) FROM endpoints").get
    if low is None:
        return 0
    before = conn.total_changes()
    for types, ids in ((OF_REPORTS, report_ids), (OF_REPLIES, reply_ids)):
        kinds = ", ".join(f"'{t}'" for t in types)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ", ".join("?" * len(part))
            conn.execute(
                "DELETE FROM deliveries WHERE seq IN (SELECT d.seq FROM deliveries d JOIN events e ON e.seq = d.seq"
                f" WHERE e.type IN ({kinds}) AND e.ref IN ({marks}))",
                part,
            )
            conn.execute(f"DELETE FROM events WHERE seq > ? AND type IN ({kinds}) AND ref IN ({marks})", (low, *part))
    return conn.total_changes() - before


def drop_bodies(conn: Connection, before: int) -> tuple[int, bool]:
    """Set to NULL up to BODIES_BATCH inbox bodies received before `before`, from where the last run stopped, in
    one transaction: how many, and whether all are done. The rows stay (what came of each push is still shown)."""
    with immediate(conn):
        start = conn.execute("SELECT before FROM inbox_bodies_dropped").get
        rows = conn.execute(
            "SELECT id, received_at FROM inbox WHERE received_at >= ? AND received_at < ? ORDER BY received_at LIMIT ?",
            (start, before, BODIES_BATCH),
        ).fetchall()
        done = conn.total_changes()
        conn.executemany("UPDATE inbox SET body = NULL WHERE id = ? AND body IS NOT NULL", [(r[0],) for r in rows])
        finished = len(rows) < BODIES_BATCH
        # a full batch may stop inside one moment: the next one starts at that moment (its done rows are
        # skipped by `body IS NOT NULL`), after it when the whole batch was that moment
        reached = before if finished else rows[-1][1]
        if not finished and reached == start:
            conn.execute("UPDATE inbox SET body = NULL WHERE received_at = ? AND body IS NOT NULL", (start,))
            reached = start + 1
        conn.execute("UPDATE inbox_bodies_dropped SET before = max(before, ?)", (reached,))
        dropped = conn.total_changes() - done - 1
    return dropped, finished
