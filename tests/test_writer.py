"""Group commit: shared transactions, a bounded queue, failures answered, a clean drain."""

import asyncio

import pytest

from delivrd import results
from delivrd.push import CALLBACK, Push
from delivrd.store import StoreError
from delivrd.writer import Writer, WriteRefused


class GatedStore:
    """Commits only when the test opens the gate, so the queue can be observed; records every group."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.groups: list[list[Push]] = []
        self.fail_next = False

    async def write(self, pushes):
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise StoreError("disk full")
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
        store.fail_next = True
        writer = Writer(store)
        writer.start()
        store.gate.set()
        with pytest.raises(WriteRefused) as refused:
            await writer.submit(a_push())
        await writer.submit(a_push())  # the next commit works
        await writer.close()
        return refused.value, store

    refused, store = run(scenario())
    assert refused.code == results.COMMIT_FAILED and "disk full" in refused.message
    assert len(store.groups) == 1


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
