"""Replies become opt-out changes, behind the group commit rather than inside it.

Why behind: the group commit is the hot path (one statement per group on PostgreSQL), replies are rare
next to reports, and the keyword lists are settings, matched in Python. So the writer stores a reply as
it always did; the reply's `optout_pending` column starts true (its default), and this loop looks at the
pending replies in id order, turns those whose text is a keyword into changes, and clears their flag in
the same transaction (`base.OptOuts.apply_replies`). The flag is the watermark: it survives a restart, a
reply committed late by a concurrent writer (PostgreSQL sequences are visible out of order) is still
pending and is picked up, and a duplicate push only counts on the reply row it already has, so it is never
looked at twice. A change is the reply's, with the reply's time, sign, extend code and id.

It runs once at start (so replies stored while delivrd was stopped, or before the list existed, are
applied before serving) and then every `POLL_SECONDS`: a reply is on the list within about a second.
"""

from __future__ import annotations

import asyncio
import logging

from delivrd.domain.unsubscribe import Classifier
from delivrd.store.base import OptOuts, StoreError

log = logging.getLogger("delivrd.writer.optouts")

#: how often pending replies are looked at while serving
POLL_SECONDS = 1.0
#: replies looked at per transaction
BATCH = 500


class ReplyOptOuts:
    """The loop that applies replies to the opt-out list."""

    def __init__(self, store: OptOuts, classify: Classifier) -> None:
        self.store = store
        self.classify = classify
        self._task: asyncio.Task[None] | None = None

    async def catch_up(self) -> int:
        """Look at every pending reply now; returns how many were looked at."""
        total = 0
        while (done := await self.store.apply_replies(self.classify, BATCH)) > 0:
            total += done
            if done < BATCH:
                break
        return total

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="delivrd-reply-optouts")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self.catch_up()
            except StoreError as exc:  # the replies stay pending: tried again next round
                log.error("applying replies to the opt-out list failed (will retry): %s", exc)
            except Exception:  # a bug must not end the loop for good: logged with its traceback, tried again
                log.exception("applying replies to the opt-out list failed unexpectedly (will retry)")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
