"""The latency buckets: the migrations' triggers hold `domain.latency`'s SQL, and its SQL and Python agree."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from delivrd.domain import latency
from delivrd.store import migrations
from delivrd.store.sqlite.connect import connect


def normal(sql: str) -> str:
    return re.sub(r"\s+", " ", sql)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_rollups_migration_buckets_as_the_domain_rule_says(dialect):
    rollups = normal(next(m.sql for m in migrations.load(dialect) if m.name == "rollups"))
    row = "new" if dialect == "sqlite" else "m"
    assert latency.bucket_sql(f"{row}.latency_s") in rollups
    assert latency.bucket_sql("m.latency_s") in rollups  # the backfill


@given(st.integers(-(2**39), 2**39) | st.integers(-300, 300))
def test_sql_and_python_put_a_latency_in_the_same_bucket_within_the_stated_error(seconds):
    conn = connect(":memory:")
    assert conn.execute(f"SELECT {latency.bucket_sql('?1')}", (seconds,)).get == latency.bucket(seconds)
    bucket = latency.bucket(seconds)
    assert abs(bucket) <= abs(seconds) and (bucket >= 0) == (seconds >= 0 or bucket == 0)
    assert abs(seconds) - abs(bucket) <= abs(bucket) * latency.MAX_RELATIVE_ERROR
    if abs(seconds) < latency.EXACT_BELOW:
        assert bucket == seconds
