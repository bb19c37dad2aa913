"""A group of pushes as one PostgreSQL statement, with its rows handed over as JSON documents.

The delivrd process does no work per report here: the decoder's row tuples (`store.columns`
order) are encoded as they are, one msgspec call per route (reports, replies), each a
document `[[row, …] per push]`, and PostgreSQL expands them (`jsonb_array_elements`, `->>`,
casts). Building one array per column in Python instead, and asyncpg checking and encoding
every element of those arrays, cost the process about 3.5 µs per report (0.6 now;
`bench.pgwriter`, docs/performance.md): as much as decoding the push. What stays in Python
is per push (the inbox row, as arrays) or rare (a push's quarantined items). bytes in a row
(`dedup_key`) travel as base64, as msgspec writes them.

The statement is one implicit transaction, all or nothing. A row refers to its push by
the push's position in the group, which the inbox rows turn into inbox ids. A report (or
reply) that the group holds more than once is one row, counted as duplicates
(`repeats`); the first one is kept. A report's key is claimed first, in key order (so two
writers never wait on each other in a cycle); only reports whose key was new are inserted,
and a known key counts one more duplicate. The new reports are folded into their messages
(`insight_sql.fold_reports`) in the same statement. Every table is written with a plain
INSERT, so triggers on them fire.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from delivrd.domain.push import CALLBACK, Push
from delivrd.store import columns, insight_sql
from delivrd.store.base import StoreError
from delivrd.store.columns import Column, Numbers, Table

PUSH = Column("push", "bigint")  # a row's push: its position in the group
_encode = msgspec.json.Encoder().encode


def _field(column: Column, index: int) -> str:
    """Element `index` of the JSON row `v` as the column's type (bytes came as base64)."""
    if column.type == "text":
        return f"v->>{index} AS {column.name}"
    if column.type == "bytea":
        return f"decode(v->>{index}, 'base64') AS {column.name}"
    return f"(v->>{index})::{column.type} AS {column.name}"


def _distinct(table: Table, document: str, key: tuple[str, ...]) -> str:
    """The rows of `table` in `document` (`[[row, …] per push]`), once per `key`: the first of each, with how many
    more the group holds (`repeats`).

    DISTINCT ON, not a filter such as `row_number() = 1` or `route = 'callback'`: the planner guesses such a filter
    keeps 0.5 % of the rows, then joins the reports to their claimed keys by nested loop, measured at 160 µs per
    report instead of 17 (every plan here rests on jsonb_array_elements' fixed guess of 100 rows)."""
    fields = ", ".join(_field(column, i) for i, column in enumerate(table.written))
    partition = ", ".join(key)
    return f"""SELECT DISTINCT ON ({partition}) r.*, count(*) OVER (
            PARTITION BY {partition} ORDER BY push, n ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        ) - 1 AS repeats
        FROM (
            SELECT p.push, i.n, p.inbox_id, p.received_at, {fields}
            FROM jsonb_array_elements(convert_from({document}::bytea, 'UTF8')::jsonb) WITH ORDINALITY AS g(rows, push)
            JOIN pushes p USING (push)
            CROSS JOIN LATERAL jsonb_array_elements(g.rows) WITH ORDINALITY AS i(v, n)
        ) AS r
        ORDER BY {partition}, push, n"""


def _write_group() -> tuple[str, int]:
    """WRITE_GROUP, its columns from the specs, and how many parameters it takes."""
    n = Numbers()
    inbox, reports, replies = columns.INBOX.names, columns.REPORTS.names, columns.REPLIES.names
    inbox_arrays = n.arrays(columns.INBOX.written)
    report_rows, reply_rows = n.next(), n.next()
    reject_arrays = n.arrays((PUSH, *columns.REJECTS.written))
    shard, pushes, received_reports, received_replies, rejected = (n.next() for _ in range(5))
    fresh = (
        "(SELECT i.* FROM incoming i JOIN claimed c ON c.sid = i.sid AND c.dedup_key = i.dedup_key WHERE c.fresh) AS f"
    )
    sql = f"""
WITH pushes AS MATERIALIZED (
    SELECT nextval('inbox_id_seq') AS inbox_id, p.*
    FROM unnest({inbox_arrays}) WITH ORDINALITY AS p({", ".join(inbox)}, push)
), inbox_rows AS (
    INSERT INTO inbox (id, {", ".join(inbox)})
    SELECT inbox_id, {", ".join(inbox)} FROM pushes
), incoming AS MATERIALIZED (
    SELECT d.*, nextval('reports_id_seq') AS new_id  -- ids in arrival order
    FROM ({_distinct(columns.REPORTS, report_rows, ("sid", "dedup_key"))}) AS d
    ORDER BY push, n
), claimed AS (
    INSERT INTO report_keys (sid, dedup_key, report_id, received_at, duplicates)
    SELECT sid, dedup_key, new_id, received_at, repeats FROM incoming ORDER BY sid, dedup_key
    ON CONFLICT (sid, dedup_key) DO UPDATE SET duplicates = report_keys.duplicates + 1 + excluded.duplicates
    RETURNING sid, dedup_key, xmax = 0 AS fresh
), new_reports AS (
    INSERT INTO reports (id, {", ".join(reports + columns.PUSHED)})
    SELECT i.new_id, {", ".join("i." + name for name in reports + columns.PUSHED)}
    FROM incoming i JOIN claimed c ON c.sid = i.sid AND c.dedup_key = i.dedup_key
    WHERE c.fresh
    RETURNING 1
), new_messages AS (
{insight_sql.fold_reports(fresh, grouped=True)}
), new_replies AS (
    INSERT INTO replies ({", ".join(replies + columns.PUSHED)}, duplicates)
    SELECT {", ".join(replies + columns.PUSHED)}, repeats
    FROM ({_distinct(columns.REPLIES, reply_rows, ("dedup_key",))}) AS t
    ORDER BY dedup_key
    ON CONFLICT (dedup_key) DO UPDATE SET duplicates = replies.duplicates + 1 + excluded.duplicates
    RETURNING xmax = 0 AS fresh
), reject_rows AS (
    INSERT INTO rejects (inbox_id, received_at, route, {", ".join(columns.REJECTS.names)})
    SELECT p.inbox_id, p.received_at, p.route, {", ".join("t." + name for name in columns.REJECTS.names)}
    FROM unnest({reject_arrays}) AS t(push, {", ".join(columns.REJECTS.names)})
    JOIN pushes p USING (push)
), counts AS (
    SELECT (SELECT count(*) FROM new_reports) AS reports,
           (SELECT count(*) FROM new_replies WHERE fresh) AS replies
), counted AS (
    INSERT INTO counters (name, shard, value)
    SELECT name, {shard}, value FROM counts, LATERAL (VALUES
        ('inbox', {pushes}::bigint), ('reports', counts.reports),
        ('report_duplicates', {received_reports} - counts.reports),
        ('replies', counts.replies), ('reply_duplicates', {received_replies} - counts.replies), ('rejects', {rejected})
    ) AS t(name, value)
    ORDER BY name
    ON CONFLICT (name, shard) DO UPDATE SET value = counters.value + excluded.value
)
SELECT reports, replies FROM counts
"""
    return sql, n.count


WRITE_GROUP, WRITE_GROUP_PARAMETERS = _write_group()


def group_arguments(pushes: Sequence[Push], shard: int) -> list:
    """The arguments of WRITE_GROUP for one group: per push, not per report."""
    reports = [push.rows if push.route == CALLBACK else () for push in pushes]
    replies = [() if push.route == CALLBACK else push.rows for push in pushes]
    rejects = [(position, q.index, q.reason, q.raw) for position, push in enumerate(pushes, 1) for q in push.rejects]
    try:
        report_rows, reply_rows = _encode(reports), _encode(replies)
    except (msgspec.EncodeError, TypeError, ValueError, OverflowError) as exc:  # refused, as asyncpg would
        raise StoreError(f"PostgreSQL refused the group: a value cannot be sent: {exc}") from exc
    return [
        *arrays([columns.inbox_values(p) for p in pushes], len(columns.INBOX.written)),
        report_rows,
        reply_rows,
        *arrays(rejects, len(columns.REJECTS.written) + 1),
        shard,
        len(pushes),
        sum(map(len, reports)),
        sum(map(len, replies)),
        sum(p.rejected for p in pushes),
    ]


def arrays(rows: list, width: int) -> list[list]:
    """Rows → one list per column, the shape `unnest($1::…[], $2::…[], …)` takes."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows)]


assert len(group_arguments([], 0)) == WRITE_GROUP_PARAMETERS, "WRITE_GROUP and group_arguments disagree"
