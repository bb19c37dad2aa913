"""One endpoint's events, sent in rounds by the process that holds its lease.

A round takes the retries that are due and the events past the endpoint's cursor, sends them (a webhook one
per request unless batched, a stream a hundred at a time, several requests in flight), and commits what came
of it in one transaction: the cursor moves past everything handed over, a failed event gets its next attempt
on the schedule or is failed for good. Sent before committed, so a crash in between sends those events again:
at least once, never lost.

After `CIRCUIT_AFTER` failed attempts in a row the endpoint counts as down: instead of failing every new event
in turn, one probe at growing intervals (the oldest retry, else the next new event) until one goes through;
then every waiting retry is made due at once, so a receiver that comes back gets its backlog in order of
attempts, not hours later. An endpoint failing for `disable_after` is disabled (visible in its state).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from delivrd.domain import clock
from delivrd.domain.clock import SECOND_US
from delivrd.domain.event_types import OF_REPORTS
from delivrd.domain.retry_schedule import Schedule
from delivrd.forward import bodies, filters
from delivrd.forward.event import Event, Sink, SinkError
from delivrd.forward.sinks import open_sink
from delivrd.store.base import EndpointRow, EventRow, RetryRow, Round, Store, StoreError

log = logging.getLogger("delivrd.forward.sending")

#: failed attempts in a row after which the endpoint is probed instead of sent to
CIRCUIT_AFTER = 3
#: seconds of lease an attempt must have left beyond its timeout before it starts
LEASE_MARGIN = 2.0
#: the longest an attempt takes: every sink gives up after this (webhook.TIMEOUT and the streams' alike)
ATTEMPT_TIMEOUT = 10.0
#: how long a sender yielding to ingest sleeps before it looks again (seconds)
YIELD_SLEEP = 0.005
#: the first probe's wait, doubling up to the last (seconds)
PROBE_FIRST, PROBE_MOST = 1.0, 60.0


@dataclass(frozen=True, slots=True)
class Tuning:
    """How hard and how often (seconds); tests and the benchmark use the defaults."""

    poll: float = 0.25  # between looks when nothing waits
    lease: float = 20.0  # how long a lease lasts unrenewed: the takeover time after a crash
    round_events: int = 1000  # most events one round takes on
    in_flight: int = 16  # requests at once
    disable_after: float = 5 * 86_400
    #: while callbacks are being answered, one round at most this often (seconds): ingest goes first
    yield_every: float = 1.0


#: what an attempt that could not keep the lease answers instead of its outcome
LOST = "(lease lost)"


class LostLease(Exception):
    """Another process holds the endpoint now (this one stalled past its lease), or it is gone or disabled."""


@dataclass
class Pending:
    """One event of a round: what it is, its body, and how many attempts it had before."""

    row: EventRow
    event: Event
    attempts: int


class EndpointSender:
    """Sends one endpoint's events while this process holds its lease."""

    def __init__(
        self,
        store: Store,
        endpoint: EndpointRow,
        owner: str,
        schedule: Schedule,
        tuning: Tuning,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.store = store
        self.endpoint = endpoint
        self.owner = owner
        self.schedule = schedule
        self.tuning = tuning
        self.filters = filters.decode(endpoint.filters)
        self.types = frozenset(msgspec.json.decode(endpoint.events, type=list[str]))
        self.cursor = (endpoint.cursor_xid, endpoint.cursor_seq)
        self.failures_in_a_row = 0
        self.probe_wait = PROBE_FIRST
        self.probe_at = 0.0  # loop time of the next probe, while the endpoint is down
        self.sink: Sink | None = None
        self.busy = busy
        self.last_round = 0.0  # loop time the last round began
        self.lease_until = 0  # µs: until when this process holds the lease, as last taken
        self._leasing = asyncio.Lock()

    @property
    def down(self) -> bool:
        return self.failures_in_a_row >= CIRCUIT_AFTER

    async def run(self) -> None:
        """Rounds until the lease is lost or the task cancelled; the lease is given back at the end."""
        if not await self._lease():
            return
        self.sink = open_sink(self.endpoint.url, self.endpoint.secret, self.endpoint.batch)
        try:
            while True:
                try:
                    worked = await self.round()
                except LostLease:
                    return
                except StoreError as exc:
                    log.error("forwarding to %s: storage failed (trying again): %s", self.endpoint.id, exc)
                    worked = False
                if not worked:
                    await asyncio.sleep(self.tuning.poll)
        finally:
            await self.sink.close()
            try:
                await asyncio.shield(self.store.release_endpoint(self.endpoint.id, self.owner))
            except StoreError:
                pass  # it expires on its own

    async def _lease(self) -> bool:
        """Take the lease, or renew it when less is left than an attempt may take and a margin (a renewal is a
        commit: not one per round). Checked before every attempt, so no attempt runs past the lease, and no
        other process can be sending the same event meanwhile."""
        async with self._leasing:
            now = clock.now_micros()
            if self.lease_until - now > (ATTEMPT_TIMEOUT + LEASE_MARGIN) * SECOND_US:
                return True
            until = now + int(self.tuning.lease * SECOND_US)
            if not await self.store.lease_endpoint(self.endpoint.id, self.owner, now, until):
                return False
            self.lease_until = until
            return True

    async def round(self) -> bool:
        """One round; whether there was anything to do."""
        loop = asyncio.get_running_loop()
        if self.busy() and loop.time() - self.last_round < self.tuning.yield_every:
            # callbacks are being answered: their CPU first (the ack path never waits on forwarding, nor
            # shares its core with it beyond one round a second); the events wait, unharmed, and go after
            await asyncio.sleep(YIELD_SLEEP)
            return True
        self.last_round = loop.time()
        if not await self._lease():
            raise LostLease
        if self.down:
            return await self._probe()
        now = clock.now_micros()
        due = await self.store.retries(self.endpoint.id, now, self.tuning.round_events)
        new = await self.store.events_after(*self.cursor, self.tuning.round_events - len(due))
        if not due and not new:
            return False
        await self._send_round(due, new)
        return True

    async def _send_round(self, due: Sequence[RetryRow], new: Sequence[EventRow]) -> bool:
        """Send `due` (retries) and `new`; commit the outcome. Whether any attempt went through."""
        attempts = {r.seq: r.attempts for r in due}
        rows = [EventRow(r.seq, r.xid, r.type, r.ref, r.at) for r in due] + list(new)
        pending, settled = await self._bodies(rows, attempts)
        batch = self.sink.batch_size if self.sink else 1
        chunks = [pending[i : i + batch] for i in range(0, len(pending), batch)]
        limit = asyncio.Semaphore(self.tuning.in_flight)

        async def attempt(chunk: list[Pending]) -> str | None:
            async with limit:
                assert self.sink is not None
                if not await self._lease():
                    return LOST
                try:
                    await self.sink.send([p.event for p in chunk])
                    return None
                except SinkError as exc:
                    return str(exc) or exc.__class__.__name__

        errors = await asyncio.gather(*(attempt(chunk) for chunk in chunks))
        if LOST in errors:  # what was sent goes again from the new holder: at least once
            raise LostLease
        now = clock.now_micros()
        retried = {row.seq for row in due}
        done = [seq for seq in settled if seq in retried]
        failed: list[tuple[int, int, int | None, str]] = []
        delivered = failed_for_good = 0
        for chunk, error in zip(chunks, errors):
            if error is None:
                delivered += len(chunk)
                done.extend(p.row.seq for p in chunk if p.row.seq in retried)
                continue
            for p in chunk:
                wait = self.schedule.wait_after(p.attempts + 1)
                failed.append((p.row.seq, p.attempts + 1, None if wait is None else now + int(wait * SECOND_US), error))
                failed_for_good += wait is None
        last_error = next((e for e in reversed(errors) if e is not None), None)
        cursor = (new[-1].xid, new[-1].seq) if new else None
        outcome = Round(
            at=now,
            cursor=cursor,
            delivered=delivered,
            done=tuple(done),
            failed=tuple(failed),
            failed_attempts=sum(e is not None for e in errors),
            failed_for_good=failed_for_good,
            last_error=last_error,
        )
        if not await self.store.record_round(self.endpoint.id, self.owner, outcome):
            raise LostLease
        if cursor is not None:
            self.cursor = cursor
        if errors and all(e is not None for e in errors):
            self.failures_in_a_row += len(errors)
            if last_error is not None:
                log.warning("forwarding to %s failed: %s", self.endpoint.id, last_error)
        elif errors:
            self.failures_in_a_row = 0
        return bool(errors) and any(e is None for e in errors)

    async def _bodies(self, rows: Sequence[EventRow], attempts: dict[int, int]) -> tuple[list[Pending], list[int]]:
        """The events to send, and the seqs settled without sending (not wanted, or their row is gone)."""
        sources = await self.store.event_sources(rows)
        templates: dict[int, str | None] = {}
        if self.filters is not None and self.filters.template is not None:
            templates = await self.store.templates([r.ref for r in rows if r.type in OF_REPORTS])
        pending, settled = [], []
        for row in rows:
            event = bodies.body(row, sources) if row.type in self.types else None
            wanted = event is not None and (
                self.filters is None or self.filters.matches(row.type, event.data, templates.get(row.ref))
            )
            if event is not None and wanted:
                pending.append(Pending(row, event, attempts.get(row.seq, 0)))
            else:
                settled.append(row.seq)
        return pending, settled

    async def _probe(self) -> bool:
        """One event to an endpoint that is down; when it goes through, the endpoint is up and its retries due."""
        loop = asyncio.get_running_loop()
        if loop.time() < self.probe_at:
            await asyncio.sleep(min(self.probe_at - loop.time(), self.tuning.poll))
            return True
        oldest = await self.store.retries(self.endpoint.id, None, 1)
        new = [] if oldest else await self.store.events_after(*self.cursor, 1)
        if not oldest and not new:
            self.failures_in_a_row = 0
            return False
        if await self._send_round(oldest, new):
            self.failures_in_a_row = 0
            self.probe_wait = PROBE_FIRST
            waiting = await self.store.retry_now(self.endpoint.id, clock.now_micros())
            log.info("forwarding to %s works again; %d retries made due", self.endpoint.id, waiting)
            return True
        if self.down:
            self.probe_at = loop.time() + self.probe_wait * random.uniform(0.8, 1.2)
            self.probe_wait = min(self.probe_wait * 2, PROBE_MOST)
            await self._disable_if_failing_too_long()
        return True

    async def _disable_if_failing_too_long(self) -> None:
        endpoint = await self.store.endpoint(self.endpoint.id)
        if endpoint is None or endpoint.failing_since is None:
            return
        since = clock.now_micros() - endpoint.failing_since
        if since >= self.tuning.disable_after * SECOND_US:
            days = since / (86_400 * SECOND_US)
            reason = f"failing for {days:.1f} days (last error: {endpoint.last_error})"
            await self.store.set_endpoint_state(self.endpoint.id, "disabled", reason)
            log.error("forwarding to %s disabled: %s", self.endpoint.id, reason)
            raise LostLease
