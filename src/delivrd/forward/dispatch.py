"""Forwarding in a serving process: it sends the events of every endpoint whose lease it holds.

Every process runs one (each worker, each instance); the lease in the database lets one process at a time
send an endpoint's events, so no event goes out twice at once, and when a process dies another takes its
endpoints over once the lease expires. One process at a time also scans for sends that got no receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable

from delivrd.domain import clock
from delivrd.domain.clock import SECOND_US
from delivrd.domain.retry_schedule import Schedule
from delivrd.forward.sending import EndpointSender, Tuning
from delivrd.store.base import Store, StoreError

log = logging.getLogger("delivrd.forward.dispatch")

#: how often the endpoints are looked at (new ones, ones whose lease another process let go) (seconds)
LOOK_EVERY = 2.0
#: how often sends past --no-receipt-after are looked for (seconds; more often when the wait is short)
NO_RECEIPT_EVERY = 30.0


class Dispatcher:
    def __init__(
        self,
        store: Store,
        schedule: Schedule,
        no_receipt_after: int,
        tuning: Tuning | None = None,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.store = store
        self.schedule = schedule
        self.no_receipt_after = no_receipt_after  # seconds
        self.tuning = tuning or Tuning()
        self.busy = busy  # whether callbacks are being answered: senders yield to them
        # names this process in the leases it holds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.senders: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="delivrd-forward")

    async def close(self) -> None:
        tasks = [t for t in (self._task, *self.senders.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.senders.clear()

    async def _run(self) -> None:
        last_scan = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self._look()
                if loop.time() - last_scan >= min(NO_RECEIPT_EVERY, max(1.0, self.no_receipt_after / 4)):
                    last_scan = loop.time()
                    await self.store.emit_no_receipt(clock.now_micros(), self.no_receipt_after * SECOND_US)
            except StoreError as exc:
                log.error("forwarding: storage failed (trying again in %.0f s): %s", LOOK_EVERY, exc)
            await asyncio.sleep(LOOK_EVERY)

    async def _look(self) -> None:
        """Start a sender for each active endpoint not sending here (it ends at once if another holds it)."""
        for endpoint_id, task in list(self.senders.items()):
            if task.done():
                del self.senders[endpoint_id]
                with contextlib.suppress(asyncio.CancelledError):
                    if (exc := task.exception()) is not None:
                        log.error("forwarding to %s stopped: %r", endpoint_id, exc)
        for endpoint in await self.store.endpoints():
            if endpoint.state == "active" and endpoint.id not in self.senders:
                sender = EndpointSender(self.store, endpoint, self.owner, self.schedule, self.tuning, self.busy)
                self.senders[endpoint.id] = asyncio.get_running_loop().create_task(
                    sender.run(), name=f"delivrd-forward-{endpoint.id}"
                )
