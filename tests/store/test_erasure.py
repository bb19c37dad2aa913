"""The store's Erasure part on both backends: inbox bodies dropped in batches from where the last run stopped,
through a batch that ends inside one moment (many pushes received in the same microsecond)."""

from __future__ import annotations

import pytest

from delivrd.store.base import ListQuery
from delivrd.store.postgres import erasure as postgres_erasure
from delivrd.store.sqlite import erasure as sqlite_erasure
from tests.store.test_store import DAY, NOW, item, make_store, push, run

__all__ = ["make_store"]  # a fixture, used by name


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    """Batches of 2, so a few pushes cross batch boundaries."""
    monkeypatch.setattr(sqlite_erasure, "BODIES_BATCH", 2)
    monkeypatch.setattr(postgres_erasure, "BODIES_BATCH", 2)


def test_bodies_are_dropped_in_batches_and_rows_stay(make_store):
    moment = NOW - 5 * DAY

    async def scenario() -> tuple[list[int], list[bool]]:
        store = make_store()
        await store.open()
        try:
            # three pushes in one microsecond, two older ones, and a recent one that stays
            for n, at in enumerate([moment, moment, moment, NOW - 4 * DAY, NOW - 3 * DAY, NOW]):
                await store.write([push(item(n), at=at)])
            dropped = [await store.drop_inbox_bodies(NOW - 2 * DAY), await store.drop_inbox_bodies(NOW - 2 * DAY)]
            rows = (await store.inbox(ListQuery(limit=10))).items
            return dropped, [row.body is None for row in rows]
        finally:
            await store.close()

    dropped, gone = run(scenario())
    assert dropped == [5, 0]
    assert gone == [False, True, True, True, True, True]  # newest first: only the recent one keeps its body
