"""Push reports the way Tencent does: arrays of up to 100, at a rate, retried twice on failure.

Tencent documents only "a failed push is retried 2 more times". What counts as a
failure is not documented, so every doubtful answer is one: a non-2xx status, an
answer that is not JSON `{"result": 0, …}`, a timeout, a dropped connection. A
report is *acked* when one of its push's tries got that answer; only acked reports
go into the ledger, because only those did the receiver promise to keep.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from delivrd.providers.tencent.constants import MAX_BATCH
from delivrd.simulate.content import MALFORMED_KINDS, Reports, encode, malformed
from delivrd.simulate.ledger import Ledger


def judge(response: httpx.Response) -> str | None:
    """None when the answer is the ack Tencent expects, else why it is not (the push will be retried)."""
    if not 200 <= response.status_code < 300:
        return f"HTTP {response.status_code}"
    try:
        answer = json.loads(response.content)
    except ValueError:
        return "answer is not JSON"
    if not isinstance(answer, dict) or "result" not in answer:
        return "answer has no result field"
    result = answer["result"]
    if type(result) is not int:
        return f"result is not an integer: {result!r}"
    if result != 0:
        return f"result {result}"
    return None


#: what a server answers a POST to a path it does not serve
WRONG_PATH = {"404", "405"}


def wrong_url_hint(url: str, answers: Counter) -> str | None:
    """When every answer says the path is wrong: that `url` may not be the callback URL (None otherwise)."""
    if not answers or set(answers) - WRONG_PATH:
        return None
    origin = httpx.URL(url).copy_with(path="/", query=None)
    return (
        f"every answer was HTTP {' or '.join(sorted(answers))}: is {url} the callback URL?"
        f" delivrd's is {str(origin).rstrip('/')}/sms/callback"
    )


@dataclass
class Delivery:
    """What became of one push after all its tries."""

    acked: bool
    tries: int
    reason: str | None  # why the last try failed (None when acked)


@dataclass
class Stats:
    """Running totals, read by the progress display while the run goes on."""

    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    requests: int = 0  # HTTP requests made, retries included
    pushes: int = 0  # distinct push bodies sent
    reports_pushed: int = 0
    pushes_acked: int = 0
    reports_acked: int = 0
    retries: int = 0
    pushes_failed: int = 0  # failed for good: every try failed
    reports_failed: int = 0
    duplicate_pushes: int = 0
    malformed_pushes: int = 0
    oversized_pushes: int = 0
    answers: Counter = field(default_factory=Counter)  # "200", "503", "timeout", "connection error"
    malformed_answers: Counter = field(default_factory=Counter)  # the same, for bodies that are not report arrays
    failures: Counter = field(default_factory=Counter)  # reason → tries that failed for it
    latencies: array = field(default_factory=lambda: array("d"))  # seconds, one per answered request (8 bytes each)

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def summary(self, *, recent: int | None = None, **extra: Any) -> dict[str, Any]:
        """The totals as a dict (the `--json` file); latency over the last `recent` requests when given."""
        elapsed = max(self.elapsed, 1e-9)
        ordered = sorted(self.latencies[-recent:] if recent else self.latencies)

        def pct(p: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)

        return {
            **extra,
            "elapsed_s": round(elapsed, 3),
            "requests": self.requests,
            "pushes": self.pushes,
            "reports_pushed": self.reports_pushed,
            "pushes_acked": self.pushes_acked,
            "reports_acked": self.reports_acked,
            "retries": self.retries,
            "pushes_failed": self.pushes_failed,
            "reports_failed": self.reports_failed,
            "duplicate_pushes": self.duplicate_pushes,
            "malformed_pushes": self.malformed_pushes,
            "oversized_pushes": self.oversized_pushes,
            "requests_per_s": round(self.requests / elapsed, 1),
            "reports_per_s": round(self.reports_acked / elapsed, 1),
            "latency_ms": {
                "p50": pct(0.50),
                "p90": pct(0.90),
                "p99": pct(0.99),
                "max": round(ordered[-1] * 1000, 2) if ordered else None,
            },
            "answers": dict(self.answers.most_common()),
            "malformed_answers": dict(self.malformed_answers.most_common()),
            "failures": dict(self.failures.most_common()),
        }


class Sender:
    """Sends one push with Tencent's retries, counting everything in `stats`."""

    def __init__(
        self, client: httpx.AsyncClient, url: str, stats: Stats, *, retries: int = 2, retry_delay: float = 1.0
    ) -> None:
        self.client = client
        self.url = url
        self.stats = stats
        self.retries = retries
        self.retry_delay = retry_delay

    async def attempt(self, body: bytes) -> tuple[str, str | None]:
        """One request → (what came back: a status code, "timeout" or "connection error"; None when acked
        else the reason it was not)."""
        self.stats.requests += 1
        began = time.perf_counter()
        reason: str | None
        try:
            response = await self.client.post(self.url, content=body, headers={"content-type": "application/json"})
        except httpx.TimeoutException:
            answer, reason = "timeout", "timeout"
        except httpx.TransportError as exc:
            answer, reason = "connection error", f"connection error ({type(exc).__name__})"
        else:
            self.stats.latencies.append(time.perf_counter() - began)
            answer, reason = str(response.status_code), judge(response)
        self.stats.answers[answer] += 1
        return answer, reason

    async def deliver(self, body: bytes) -> Delivery:
        """Push `body`; on failure try again up to `retries` more times, `retry_delay` apart."""
        tries = 1 + self.retries
        reason: str | None = None
        for attempt in range(tries):
            if attempt:
                self.stats.retries += 1
                await asyncio.sleep(self.retry_delay)
            _, reason = await self.attempt(body)
            if reason is None:
                return Delivery(True, attempt + 1, None)
            self.stats.failures[reason] += 1
        return Delivery(False, tries, reason)


@dataclass
class Plan:
    """What to send: how much, how fast, and which faults to inject on purpose."""

    url: str
    count: int | None = 1000  # reports; None: until `duration`
    duration: float | None = None  # seconds; None: until `count`
    rate: float | None = None  # reports/s; None: as fast as the receiver answers
    concurrency: int = 8
    batch: int = MAX_BATCH
    duplicates: float = 0.0  # share of acked pushes sent again, as after a lost ack
    malformed: float = 0.0  # share of pushes that are malformed
    oversized: float = 0.0  # share of pushes larger than Tencent's 100
    oversize: int = 1000  # reports in an oversized push
    retries: int = 2
    retry_delay: float = 1.0
    timeout: float = 5.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.count is None and self.duration is None:
            raise ValueError("give a count of reports, a duration, or both")
        if not 1 <= self.batch <= MAX_BATCH:
            raise ValueError(f"batch must be 1 to {MAX_BATCH} (Tencent's limit); use oversized for more")
        for name in ("duplicates", "malformed", "oversized"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a fraction from 0 to 1")
        if self.concurrency < 1 or self.retries < 0 or (self.rate is not None and self.rate <= 0):
            raise ValueError("concurrency must be ≥ 1, retries ≥ 0, rate > 0")


@dataclass
class _Job:
    body: bytes
    reports: list[dict[str, str]]  # the valid reports in the body (recorded in the ledger once acked)
    kind: str  # "batch", "oversized", or a malformed kind
    due: float  # monotonic time it may be sent


class _Schedule:
    """Hands out the next push to whichever worker asks; all randomness from one seeded source."""

    def __init__(self, plan: Plan, reports: Reports) -> None:
        self.plan = plan
        self.reports = reports
        self.rng = random.Random(plan.seed ^ 0x5EED)
        self.planned = 0  # reports handed out so far
        self.started = time.monotonic()
        self.deadline = None if plan.duration is None else self.started + plan.duration

    def next(self) -> _Job | None:
        plan = self.plan
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            return None
        left = None if plan.count is None else plan.count - self.planned
        if left is not None and left <= 0:
            return None
        due = self.started + (self.planned / plan.rate if plan.rate else 0.0)
        if self.deadline is not None and due >= self.deadline:
            return None  # at this rate, the next push would fall after the end
        size, kind = plan.batch, "batch"
        if plan.oversized and self.rng.random() < plan.oversized:
            size, kind = plan.oversize, "oversized"
        if left is not None:
            size = min(size, left)
        if plan.malformed and self.rng.random() < plan.malformed:
            kind = self.rng.choice(MALFORMED_KINDS)
        good = self.reports.take(size)
        self.planned += size
        if kind in MALFORMED_KINDS:
            body, good = malformed(kind, good)
        else:
            body = encode(good)
        return _Job(body, good, kind, due)


async def run(
    plan: Plan,
    reports: Reports,
    *,
    ledger: Ledger | None = None,
    stats: Stats | None = None,
    on_tick: Callable[[Stats], None] | None = None,
    tick: float = 0.5,
) -> Stats:
    """Push until the plan's count or duration is reached; return the totals."""
    stats = stats or Stats()
    schedule = _Schedule(plan, reports)
    stats.started = schedule.started
    limits = httpx.Limits(max_connections=plan.concurrency, max_keepalive_connections=plan.concurrency)
    async with httpx.AsyncClient(timeout=plan.timeout, limits=limits) as client:
        sender = Sender(client, plan.url, stats, retries=plan.retries, retry_delay=plan.retry_delay)
        dup_rng = random.Random(plan.seed ^ 0xD0B1E)

        async def worker() -> None:
            while (job := schedule.next()) is not None:
                wait = job.due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                stats.pushes += 1
                stats.reports_pushed += len(job.reports)
                if job.kind in MALFORMED_KINDS:
                    stats.malformed_pushes += 1
                elif job.kind == "oversized":
                    stats.oversized_pushes += 1
                if job.kind in ("not_json", "not_array"):
                    # Not a report array: sent once, and any answer is noted, none is a failure of ours.
                    answer, _ = await sender.attempt(job.body)
                    stats.malformed_answers[answer] += 1
                    continue
                delivery = await sender.deliver(job.body)
                if not delivery.acked:
                    stats.pushes_failed += 1
                    stats.reports_failed += len(job.reports)
                    continue
                stats.pushes_acked += 1
                stats.reports_acked += len(job.reports)
                if ledger is not None:
                    ledger.record(job.reports)
                if plan.duplicates and dup_rng.random() < plan.duplicates:
                    stats.duplicate_pushes += 1
                    await sender.deliver(job.body)  # the same push again; already in the ledger

        async def ticker() -> None:
            while True:
                await asyncio.sleep(tick)
                on_tick(stats)  # type: ignore[misc]

        ticking = asyncio.create_task(ticker()) if on_tick else None
        try:
            await asyncio.gather(*(worker() for _ in range(plan.concurrency)))
        finally:
            if ticking:
                ticking.cancel()
            stats.finished = time.monotonic()
    return stats
