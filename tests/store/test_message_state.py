"""The message rules of `domain.message_state`: the migrations hold its SQL, and its SQL and its Python agree."""

from __future__ import annotations

import itertools
import re

import pytest

from delivrd.domain import message_state as rules
from delivrd.providers.tencent import receipts
from delivrd.query.category import category
from delivrd.store import insight_sql, migrations
from delivrd.store.sqlite.connect import connect


def normal(sql: str) -> str:
    """`sql` with runs of whitespace as one space, none inside parentheses' edges."""
    return re.sub(r"\s+", " ", sql).replace("( ", "(").replace(" )", ")").strip()


def generated(dialect: str, column: str) -> str:
    """The expression of a generated column of `messages`, as the migrations create it."""
    text = "\n".join(m.sql for m in migrations.load(dialect))
    match = re.search(rf"\b{column}\s+\w+\s+GENERATED ALWAYS AS \((.*?)\)\s+(STORED|VIRTUAL)", text, re.S)
    assert match, f"{dialect}: no generated column {column}"
    return normal(match[1])


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_migrations_hold_the_rules_sql(dialect):
    assert generated(dialect, "state") == normal(rules.OUTCOME_SQL)
    assert generated(dialect, "code") == normal(rules.CODE_SQL)
    assert generated(dialect, "latency_s") == normal(rules.LATENCY_SQL)
    backfill = normal(next(m.sql for m in migrations.load(dialect) if m.name == "messages"))
    assert normal(f"SELECT {insight_sql.RECEIPT_SUMMARY} FROM reports") in backfill


STATUSES = [
    (),
    (("SUCCESS", "DELIVRD"),),
    (("FAIL", "MK:0001"),),
    (("SUCCESS", None), ("FAIL", "MK:0001")),
    (("FAIL", "MK:0002"), ("FAIL", "MK:0001")),
    (("SUCCESS", "B"), ("SUCCESS", "A")),
    (("FAIL", None),),
]
SEND_CODES = [None, "Ok", "LimitExceeded.PhoneNumberDailyLimit"]
PENDING_AFTER = 1_000


def test_python_and_sql_decide_the_same_state_and_code():
    """Every combination of receipts, send Code and age, through the SQL (on SQLite) and through Python."""
    conn = connect(":memory:")
    conn.execute("CREATE TABLE reports (message INTEGER, report_status TEXT, errmsg TEXT, user_receive_ts INTEGER)")
    conn.execute(
        f"CREATE TABLE messages (id INTEGER, send_code TEXT, at INTEGER, sent_at INTEGER, receipts INTEGER,"
        f" {', '.join(rules.RECEIPT_COLUMNS)})"
    )
    cases = list(itertools.product(STATUSES, SEND_CODES, (PENDING_AFTER - 1, PENDING_AFTER, PENDING_AFTER + 1)))
    summary = ", ".join(f"{a}({e})" for a, e in zip(rules.RECEIPT_AGGREGATES, rules.RECEIPT_SQL))
    for n, (statuses, send_code, at) in enumerate(cases):
        conn.executemany("INSERT INTO reports VALUES (?, ?, ?, 1790000020)", [(n, s, e) for s, e in statuses])
        conn.execute(
            f"INSERT INTO messages SELECT ?, ?, ?, 1790000000000000, count(*), {summary}"
            " FROM reports WHERE message = ?",
            (n, send_code, at, n),
        )
    found = conn.execute(
        f"SELECT {rules.STATE_SQL}, code, latency_s FROM (SELECT at, {rules.OUTCOME_SQL} AS state,"
        f" {rules.CODE_SQL} AS code, {rules.LATENCY_SQL} AS latency_s FROM messages ORDER BY id)",
        (PENDING_AFTER,),
    ).fetchall()
    for (statuses, send_code, at), (state, code, latency) in zip(cases, found):
        outcome, python_code = rules.outcome(statuses, send_code)
        assert (rules.state(outcome, at, PENDING_AFTER), python_code) == (state, code), (statuses, send_code, at)
        assert latency == (rules.latency_s(1790000020, 1790000000000000) if state == rules.DELIVERED else None)
    conn.close()


def test_category_and_pending_after():
    assert category(rules.DELIVERED, "DELIVRD") == "delivered"
    assert category(rules.PENDING, None) is None and category(rules.NO_RECEIPT, None) is None
    assert category(rules.FAILED, "MK:0001") == receipts.category("MK:0001") == "invalid_number"
    assert rules.pending_after(10_000_000, 3) == 7_000_000
    assert rules.latency_s(10, -1) == 10 and rules.latency_s(10, 1_999_999) == 9  # truncated, as SQL's division
