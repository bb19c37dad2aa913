"""Group commit: one writer drains a bounded queue and commits what it finds together.

Each request submits its push and awaits its own commit. While one commit is in
flight the next requests queue up, so under load one transaction (and one fsync)
serves many requests, and a request never pays for a transaction of its own. The
queue is bounded in pushes and bytes: when it is full, `submit` fails at once so
the caller can answer 503 instead of growing memory or hanging. A push not committed
within `commit_timeout` is answered 503 by a watchdog that looks at the oldest
pushes a few times per timeout (one task, instead of a timer per request).

A push that storage refuses (a value a check let through, a constraint) must not fail the
pushes that share its commit: a failed group is committed again in halves until the push at
fault stands alone, and only it is refused (its body still kept).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from delivrd import metrics
from delivrd.domain import results
from delivrd.domain.push import Push
from delivrd.logs import Limited
from delivrd.store import Committer, StoreError, StoreUnavailable

log = logging.getLogger("delivrd.writer.group_commit")


class WriteRefused(Exception):
    """The push was not stored; `code` and `message` say why (the caller answers 503)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class StoreDown(Exception):
    """A commit failed, and so did committing one push as its bare body: storage itself is failing."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Writer:
    def __init__(
        self,
        store: Committer,
        *,
        max_pending: int = 4096,
        max_pending_bytes: int = 256 * 1024 * 1024,
        commit_timeout: float = 10.0,
    ) -> None:
        self.store = store
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.commit_timeout = commit_timeout
        # (push, its future, loop.time() when queued), oldest first; _group is the one being committed
        self._queue: deque[tuple[Push, asyncio.Future[None], float]] = deque()
        self._group: list[tuple[Push, asyncio.Future[None], float]] = []
        self._pending_bytes = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: why the latest commit failed, None once one succeeds: `/healthz` answers 503 while it is set
        self.failing: str | None = None
        metrics.WRITE_QUEUE_CAPACITY.set(max_pending)
        #: commits failed in a row: an outage is one line per few seconds with this count, and one traceback
        self.failures = 0
        self._failure_log = Limited(log, lines=1, window=10.0)

    @property
    def waiting(self) -> int:
        """Pushes queued for the next group: above 0, callbacks are waiting on storage (forwarding yields)."""
        return len(self._queue)

    def start(self) -> None:
        # kept, not looked up per push: on Python 3.11 get_running_loop() makes a getpid() system call,
        # which showed as ~4 % of the whole process in a batch-1 profile
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="delivrd-writer")
        self._watchdog = self._loop.create_task(self._watch(), name="delivrd-writer-watchdog")

    async def submit(self, push: Push) -> None:
        """Queue `push` and return once it is committed; raise WriteRefused otherwise."""
        if self._closing:
            raise WriteRefused(
                results.SHUTTING_DOWN, "delivrd is shutting down; retry against another instance or later"
            )
        if len(self._queue) >= self.max_pending or self._pending_bytes + push.weight > self.max_pending_bytes:
            raise WriteRefused(
                results.QUEUE_FULL, "write queue is full (storage is slower than the incoming load); retry later"
            )
        loop = self._loop
        assert loop is not None, "start() the writer first"
        future: asyncio.Future[None] = loop.create_future()
        self._queue.append((push, future, loop.time()))
        self._pending_bytes += push.weight
        self._wakeup.set()
        await future

    async def _watch(self) -> None:
        """Answer COMMIT_TIMEOUT to pushes waiting longer than commit_timeout (they stay queued and are
        still committed; a retry is then counted as a duplicate)."""
        assert self._loop is not None
        message = f"storage did not commit within {self.commit_timeout:g}s; the push may be retried safely"
        while True:
            await asyncio.sleep(self.commit_timeout / 4)
            too_old = self._loop.time() - self.commit_timeout
            metrics.WRITE_QUEUE.set(len(self._queue) + len(self._group))  # seen even while a commit hangs
            for waiting in (self._group, self._queue):
                for _, future, queued_at in waiting:  # oldest first: stop at the first young one
                    if queued_at > too_old:
                        break
                    if not future.done():
                        future.set_exception(WriteRefused(results.COMMIT_TIMEOUT, message))

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            self._group = group = list(self._queue)
            self._queue.clear()
            self._pending_bytes = 0
            metrics.WRITE_QUEUE.set(len(group))
            started = time.perf_counter()
            try:
                await self._commit(group)
            except StoreDown as down:  # storage itself is failing: every push still waiting is refused
                self.failing = str(down.cause)
                self.failures += 1
                # even a bug must not stop the writer: fail the group, keep serving (its traceback once per run)
                bug = None if isinstance(down.cause, StoreError) or self.failures > 1 else down.cause
                self._failure_log.log(
                    "commits failing",
                    logging.ERROR,
                    "commit of %d push(es) failed (%d in a row): %s",
                    len(group),
                    self.failures,
                    down.cause if bug is None else f"unexpected {type(bug).__name__}: {bug}",
                    exc_info=bug,
                    failures=self.failures,
                    error=str(down.cause),
                )
                error = WriteRefused(results.COMMIT_FAILED, f"storage could not commit: {down.cause}")
                for _, future, _ in group:
                    if not future.done():
                        future.set_exception(error)
            finally:
                self._group = []  # do not hold the bodies until the next group
                metrics.COMMIT_DURATION.observe(time.perf_counter() - started)
                metrics.WRITE_QUEUE.set(len(self._queue))

    async def _commit(self, group: list[tuple[Push, asyncio.Future[None], float]]) -> None:
        """Commit `group` in one transaction; if that fails, in halves, so that a push the store refuses
        fails alone: it is then kept as its body only (`Push.unstorable`) and answered UNSTORABLE.
        StoreDown when even that cannot be committed (the failure is storage's, not the push's).

        With storage down this costs about log2(len(group)) + 3 attempts before giving up.
        """
        try:
            await self.store.write([push for push, _, _ in group])
        except StoreUnavailable as exc:  # no push is at fault: looking for one would only cost time
            raise StoreDown(exc) from None
        except Exception as exc:
            if len(group) > 1:
                half = len(group) // 2
                await self._commit(group[:half])
                await self._commit(group[half:])
                return
            push, future, _ = group[0]
            try:  # once more as it is (the failure may have passed), then as its body alone
                await self.store.write([push])
            except StoreUnavailable as again:
                raise StoreDown(again) from None
            except Exception:
                pass
            else:
                self._settle(group)
                return
            try:
                await self.store.write([push.unstorable(str(exc))])
            except Exception:
                raise StoreDown(exc) from None
            log.error("storage refused a %s push from %s (kept as its body alone): %s", push.route, push.peer, exc)
            self._committed(1)
            if not future.done():
                future.set_exception(
                    WriteRefused(
                        results.UNSTORABLE, f"storage refused this push: {exc}; it is kept in the inbox for inspection"
                    )
                )
            return
        self._settle(group)

    def _settle(self, group: list[tuple[Push, asyncio.Future[None], float]]) -> None:
        """`group` is committed: count it, and answer each push that still waits."""
        self._committed(len(group))
        for _, future, _ in group:
            if not future.done():
                future.set_result(None)

    def _committed(self, pushes: int) -> None:
        metrics.COMMITS.inc()
        metrics.COMMITTED_PUSHES.inc(pushes)
        self.failing = None
        if self.failures:
            self._failure_log.flush()
            log.warning(
                "commits succeed again, after %d failed in a row", self.failures, extra={"failures": self.failures}
            )
            self.failures = 0

    async def close(self) -> None:
        """Refuse new pushes, commit every one already queued, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        metrics.WRITE_QUEUE.set(0)
