"""What only the PostgreSQL store does: day partitions created ahead and on demand, dropped by retention."""

import asyncio
import time

import pytest

from delivrd.domain.clock import DAY_US as DAY
from delivrd.domain.push import CALLBACK, Push
from delivrd.providers.tencent.decode import report_row
from delivrd.store.postgres.store import DAYS_AHEAD, PostgresStore, partition_name
from tests.databases import postgres

NOW = int(time.time() * 1_000_000)


@pytest.fixture
def pg(backend, tmp_path):
    db = tmp_path / "p.db"
    url = backend.database_url(db)
    return PostgresStore(url), backend.schemas[db]


def partitions(schema: str) -> set[str]:
    rows = postgres(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r'",
        schema,
    )
    return {name for (name,) in rows}


@pytest.mark.backends("postgresql")
def test_partitions_ahead_on_demand_and_dropped_whole_days(pg):
    store, schema = pg
    today = NOW // DAY
    old = NOW - 40 * DAY
    row = report_row({"sid": "s", "mobile": "1", "report_status": "FAIL"})

    async def scenario():
        await store.open()
        ahead = partitions(schema)
        await store.write([Push(CALLBACK, old, None, 200, "stored", 1, b"[]", [row])])  # a day with no partition yet
        on_demand = partitions(schema)
        await store.prune(NOW - 30 * DAY)
        await store.close()
        return ahead, on_demand, partitions(schema)

    ahead, on_demand, after = asyncio.run(scenario())
    expected = {partition_name(t, d) for t in ("inbox", "reports") for d in range(today - 1, today + DAYS_AHEAD + 1)}
    assert ahead == expected
    assert on_demand - ahead == {partition_name("inbox", old // DAY), partition_name("reports", old // DAY)}
    assert after == expected
