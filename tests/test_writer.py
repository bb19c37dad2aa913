"""Group commit: shared transactions, a bounded queue, failures answered, a clean drain."""

import asyncio

import pytest

from delivrd.domain import results
from delivrd.domain.push import CALLBACK, Push
from delivrd.store import StoreError, StoreUnavailable
from delivrd.writer.group_commit import Writer, WriteRefused


class GatedStore:
    """Commits only when the test opens the gate, so the queue can be observed; records every group.

    `failures` writes fail (storage down), and so does every write holding a push whose body
    is b"poison" (a push the store refuses), as SQLite or PostgreSQL would: all or nothing.
    """

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.groups: list[list[Push]] = []
        self.failures = 0
        self.down = False
        self.attempts = 0

    async def write(self, pushes):
        await self.gate.wait()
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise StoreError("disk full")
        if self.down:
            raise StoreUnavailable("database is locked")
        if any(("poison",) in p.rows for p in pushes):
            raise StoreError("integer out of range")
        self.groups.append(list(pushes))


def a_push(n: int = 0, size: int = 10) -> Push:
    return Push(CALLBACK, n, None, 200, "stored", size, b"x" * size)


def run(coro):
    return asyncio.run(coro)


def test_concurrent_requests_share_a_commit():
    async def scenario():
        store = GatedStore()
        writer = Writer(store)
        writer.start()
        waiting = [asyncio.create_task(writer.submit(a_push(n))) for n in range(50)]
        await asyncio.sleep(0.01)
        store.gate.set()
        await asyncio.gather(*waiting)
        await writer.close()
        return store

    store = run(scenario())
    assert sum(len(g) for g in store.groups) == 50
    assert len(store.groups) <= 2  # at most the first push alone, then all the rest together


def test_full_queue_is_refused_at_once():
    async def scenario():
        store = GatedStore()
        writer = Writer(store, max_pending=3)
        writer.start()
        first = asyncio.create_task(writer.submit(a_push()))
        await asyncio.sleep(0.01)  # the writer takes the first push and waits at the gate
        queued = [asyncio.create_task(writer.submit(a_push())) for _ in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(WriteRefused) as refused:
            await writer.submit(a_push())
        store.gate.set()
        await asyncio.gather(first, *queued)
        await writer.close()
        return refused.value

    assert run(scenario()).code == results.QUEUE_FULL


def test_queue_is_bounded_in_bytes_too():
    async def scenario():
        store = GatedStore()
        writer = Writer(store, max_pending_bytes=1000)
        writer.start()
        with pytest.raises(WriteRefused) as refused:
            await writer.submit(a_push(size=2000))
        store.gate.set()
        await writer.close()
        return refused.value

    assert run(scenario()).code == results.QUEUE_FULL


def test_failed_commit_fails_its_group_and_the_writer_goes_on():
    async def scenario():
        store = GatedStore()
        store.failures = 3  # the group, the push again, and the push as its bare body
        writer = Writer(store)
        writer.start()
        store.gate.set()
        with pytest.raises(WriteRefused) as refused:
            await writer.submit(a_push())
        failing = writer.failing
        await writer.submit(a_push())  # the next commit works
        await writer.close()
        return refused.value, failing, writer.failing, store

    refused, failing, after, store = run(scenario())
    assert refused.code == results.COMMIT_FAILED and "disk full" in refused.message
    assert failing == "disk full" and after is None  # what /healthz reports, then not
    assert len(store.groups) == 1


def test_a_commit_that_fails_once_is_tried_again():
    async def scenario():
        store = GatedStore()
        store.failures = 1
        writer = Writer(store)
        writer.start()
        store.gate.set()
        await writer.submit(a_push())
        await writer.close()
        return store

    store = run(scenario())
    assert [len(g) for g in store.groups] == [1]


def test_one_poisoned_push_among_100_fails_alone_and_is_kept():
    async def scenario():
        store = GatedStore()
        writer = Writer(store)
        writer.start()
        pushes = [a_push(n) for n in range(101)]
        pushes[37] = Push(CALLBACK, 37, "10.0.0.9", 200, "stored", 6, b"poison", [("poison",)])
        waiting = [asyncio.create_task(writer.submit(p)) for p in pushes]
        await asyncio.sleep(0.01)  # all 101 queue up behind the gate: one group
        store.gate.set()
        answers = await asyncio.gather(*waiting, return_exceptions=True)
        await writer.close()
        return answers, store, writer

    answers, store, writer = run(scenario())
    refused = [n for n, a in enumerate(answers) if a is not None]
    assert refused == [37]
    assert answers[37].code == results.UNSTORABLE and "integer out of range" in answers[37].message
    stored = [p for g in store.groups for p in g]
    assert sorted(p.received_at for p in stored if p.outcome == "stored") == [n for n in range(101) if n != 37]
    kept = [p for p in stored if p.outcome == "unstorable"]
    assert len(kept) == 1 and kept[0].body == b"poison" and kept[0].rows == []
    assert "integer out of range" in kept[0].rejects[0].reason and kept[0].result == results.UNSTORABLE
    assert store.attempts <= 2 * 8 + 3  # halves down to the culprit, not one commit per push
    assert writer.failing is None


def refused_group(store: GatedStore, size: int) -> list:
    """What `size` pushes queued together behind the gate are answered."""

    async def scenario():
        writer = Writer(store)
        writer.start()
        waiting = [asyncio.create_task(writer.submit(a_push(n))) for n in range(size)]
        await asyncio.sleep(0.01)
        store.gate.set()
        return await asyncio.gather(*waiting, return_exceptions=True)

    return run(scenario())


def test_storage_down_gives_up_after_a_few_attempts_not_one_per_push():
    store = GatedStore()
    store.failures = 10**6  # failures the store does not call unavailable: the writer looks for a culprit
    answers = refused_group(store, 1000)
    assert {a.code for a in answers} == {results.COMMIT_FAILED}
    assert store.attempts <= 10 + 3  # log2(1000) halvings, the push again, its bare body


def test_storage_unavailable_fails_the_group_at_once():
    store = GatedStore()
    store.down = True
    answers = refused_group(store, 100)
    assert {a.code for a in answers} == {results.COMMIT_FAILED}
    assert "database is locked" in answers[0].message
    assert store.attempts == 1


def test_commit_that_hangs_times_out():
    async def scenario():
        writer = Writer(GatedStore(), commit_timeout=0.05)
        writer.start()
        with pytest.raises(WriteRefused) as refused:
            await writer.submit(a_push())
        return refused.value

    assert run(scenario()).code == results.COMMIT_TIMEOUT


def test_close_commits_what_was_queued_and_refuses_more():
    async def scenario():
        store = GatedStore()
        writer = Writer(store)
        writer.start()
        waiting = [asyncio.create_task(writer.submit(a_push(n))) for n in range(5)]
        await asyncio.sleep(0)
        closing = asyncio.create_task(writer.close())
        await asyncio.sleep(0)
        with pytest.raises(WriteRefused) as refused:
            await writer.submit(a_push())
        store.gate.set()
        await asyncio.gather(closing, *waiting)
        return refused.value, store

    refused, store = run(scenario())
    assert refused.code == results.SHUTTING_DOWN
    assert sum(len(g) for g in store.groups) == 5


def test_push_queued_behind_a_hanging_commit_times_out_too():
    async def scenario():
        store = GatedStore()
        writer = Writer(store, commit_timeout=0.05)
        writer.start()
        first = asyncio.create_task(writer.submit(a_push(1)))
        await asyncio.sleep(0.01)  # the first push's commit hangs at the gate
        with pytest.raises(WriteRefused) as refused:
            await writer.submit(a_push(2))  # queued behind it, never in a group
        with pytest.raises(WriteRefused):
            await first
        store.gate.set()
        await writer.close()  # both are still committed: a retry would count as a duplicate
        return refused.value, store

    refused, store = run(scenario())
    assert refused.code == results.COMMIT_TIMEOUT
    assert sum(len(g) for g in store.groups) == 2
