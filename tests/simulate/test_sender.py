"""Tencent's delivery behaviour: what counts as an ack, and the two retries after a failure."""

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest

from delivrd.simulate.content import Reports
from delivrd.simulate.sender import Plan, Sender, Stats, _Schedule, judge

from .conftest import ack, drop, hang, plain_text, result, status

BODY = b'[{"sid":"2019:1","mobile":"13800138000","report_status":"SUCCESS"}]'


def response(code: int, body: bytes) -> httpx.Response:
    return httpx.Response(code, content=body)


def test_judge_accepts_only_2xx_with_result_zero():
    assert judge(response(200, b'{"result":0,"errmsg":"OK"}')) is None
    assert judge(response(200, b'{"result":0}')) is None
    assert judge(response(503, b'{"result":0,"errmsg":"OK"}')) == "HTTP 503"
    assert judge(response(200, b'{"result":2001,"errmsg":"full"}')) == "result 2001"
    assert judge(response(200, b"OK")) == "answer is not JSON"
    assert judge(response(200, b'{"errmsg":"OK"}')) == "answer has no result field"
    assert judge(response(200, b'{"result":"0"}')).startswith("result is not an integer")
    assert judge(response(200, b'{"result":false}')).startswith("result is not an integer")


def deliver(url: str, *, retries: int = 2, timeout: float = 5.0):
    stats = Stats()

    async def go():
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await Sender(client, url, stats, retries=retries, retry_delay=0.01).deliver(BODY)

    return asyncio.run(go()), stats


def test_a_failed_push_is_tried_again_and_acked(scripted_receiver):
    receiver = scripted_receiver([status(503), result(1), ack])
    delivery, stats = deliver(receiver.url)
    assert delivery.acked and delivery.tries == 3
    assert stats.retries == 2 and stats.requests == 3
    assert receiver.bodies == [BODY] * 3  # the same push each time
    assert stats.failures == {"HTTP 503": 1, "result 1": 1}


def test_three_failures_and_the_push_is_gone(scripted_receiver):
    receiver = scripted_receiver([plain_text])
    delivery, _stats = deliver(receiver.url)
    assert not delivery.acked and delivery.tries == 3
    assert delivery.reason == "answer is not JSON"
    assert len(receiver.bodies) == 3  # never a fourth try


def test_timeouts_and_dropped_connections_are_failures_too(scripted_receiver):
    receiver = scripted_receiver([hang(1.0), drop, ack])
    delivery, stats = deliver(receiver.url, timeout=0.3)
    assert delivery.acked and delivery.tries == 3
    assert stats.answers["timeout"] == 1 and stats.answers["connection error"] == 1


def test_retries_are_configurable(scripted_receiver):
    receiver = scripted_receiver([status(500)])
    delivery, _ = deliver(receiver.url, retries=0)
    assert not delivery.acked and len(receiver.bodies) == 1


def test_nothing_listening_fails_after_three_tries(scripted_receiver):
    receiver = scripted_receiver([ack])
    receiver.close()  # the port is free again: connection refused
    delivery, stats = deliver(receiver.url)
    assert not delivery.acked and stats.answers == {"connection error": 3}
    assert json.dumps(stats.summary())  # the summary is JSON even with no latencies


def test_the_schedule_paces_pushes_at_the_rate_and_stops_at_the_count():
    plan = Plan(url="http://unused", count=950, rate=500.0, batch=100, seed=1)
    schedule = _Schedule(plan, Reports(1, start=datetime(2026, 11, 24, tzinfo=UTC)))
    jobs = []
    while (job := schedule.next()) is not None:
        jobs.append(job)
    assert [len(job.reports) for job in jobs] == [100] * 9 + [50]
    # push k is due when k*100 reports have gone at 500 reports/s: every 0.2 s
    offsets = [round(job.due - schedule.started, 6) for job in jobs]
    assert offsets == [round(k * 0.2, 6) for k in range(10)]


def test_at_a_rate_the_duration_bounds_the_pushes():
    plan = Plan(url="http://unused", count=None, duration=1.0, rate=250.0, batch=100, seed=1)
    schedule = _Schedule(plan, Reports(1, start=datetime(2026, 11, 24, tzinfo=UTC)))
    jobs = []
    while (job := schedule.next()) is not None:
        jobs.append(job)
    assert len(jobs) == 3  # due at 0, 0.4 and 0.8 s; the next would be due at 1.2 s, past the end


def test_a_plan_refuses_what_tencent_would_never_do():
    with pytest.raises(ValueError, match="batch must be 1 to 100"):
        Plan(url="http://x", batch=101)
    with pytest.raises(ValueError, match="count of reports, a duration"):
        Plan(url="http://x", count=None)
