"""Group commit: one writer drains a bounded queue and commits what it finds together.

Each request submits its push and awaits its own commit. While one commit is in
flight the next requests queue up, so under load one transaction (and one fsync)
serves many requests, and a request never pays for a transaction of its own. The
queue is bounded in pushes and bytes: when it is full, `submit` fails at once so
the caller can answer 503 instead of growing memory or hanging.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from delivrd import results
from delivrd.push import Push
from delivrd.store import Store, StoreError

log = logging.getLogger("delivrd.writer")


class WriteRefused(Exception):
    """The push was not stored; `code` and `message` say why (the caller answers 503)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Writer:
    def __init__(
        self,
        store: Store,
        *,
        max_pending: int = 4096,
        max_pending_bytes: int = 256 * 1024 * 1024,
        commit_timeout: float = 10.0,
    ) -> None:
        self.store = store
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.commit_timeout = commit_timeout
        self._queue: deque[tuple[Push, asyncio.Future[None]]] = deque()
        self._pending_bytes = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.commits = 0
        self.committed_pushes = 0

    def start(self) -> None:
        # kept, not looked up per push: on Python 3.11 get_running_loop() makes a getpid() system call,
        # which showed as ~4 % of the whole process in a batch-1 profile
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="delivrd-writer")

    async def submit(self, push: Push) -> None:
        """Queue `push` and return once it is committed; raise WriteRefused otherwise."""
        if self._closing:
            raise WriteRefused(results.SHUTTING_DOWN, "delivrd is shutting down; retry against another instance or later")
        if len(self._queue) >= self.max_pending or self._pending_bytes + push.weight > self.max_pending_bytes:
            raise WriteRefused(results.QUEUE_FULL, "write queue is full (storage is slower than the incoming load); retry later")
        loop = self._loop
        assert loop is not None, "start() the writer first"
        future: asyncio.Future[None] = loop.create_future()
        self._queue.append((push, future))
        self._pending_bytes += push.weight
        self._wakeup.set()
        timer = loop.call_later(self.commit_timeout, self._expire, future)
        try:
            await future
        finally:
            timer.cancel()

    def _expire(self, future: asyncio.Future[None]) -> None:
        if not future.done():
            message = f"storage did not commit within {self.commit_timeout:g}s; the push may be retried safely"
            future.set_exception(WriteRefused(results.COMMIT_TIMEOUT, message))

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            group = list(self._queue)
            self._queue.clear()
            self._pending_bytes = 0
            try:
                await self.store.write([push for push, _ in group])
            except Exception as exc:  # even a bug must not stop the writer: fail the group, keep serving
                if isinstance(exc, StoreError):
                    log.error("commit of %d push(es) failed: %s", len(group), exc)
                else:
                    log.exception("unexpected error while committing %d push(es)", len(group))
                error = WriteRefused(results.COMMIT_FAILED, f"storage could not commit: {exc}")
                for _, future in group:
                    if not future.done():
                        future.set_exception(error)
                continue
            self.commits += 1
            self.committed_pushes += len(group)
            for _, future in group:
                if not future.done():
                    future.set_result(None)

    async def close(self) -> None:
        """Refuse new pushes, commit every one already queued, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
