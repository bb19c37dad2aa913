"""Conformance: a short scripted series of pushes, each judged as Tencent would judge the answer.

It needs nothing from the receiver but its callback URL, so it works on any
receiver, not only delivrd. A case passes when the answer is what makes Tencent
stop (HTTP 2xx and JSON `{"result": 0, …}`) for pushes that must be kept, and a
JSON answer with an integer `result` (no crash, no HTML page) for a body that is
not JSON.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from delivrd.simulate.content import SEED_SAMPLE, Reports, encode
from delivrd.simulate.sender import judge

#: What a case expects: the ack, or any well-formed JSON answer.
ACK = "ack"
JSON_ANSWER = "json answer"


@dataclass(frozen=True)
class Case:
    name: str
    what: str  # one line: what is sent and why the receiver must cope
    body: bytes
    expect: str


@dataclass(frozen=True)
class Outcome:
    case: Case
    passed: bool
    status: int | None
    answer: str  # the start of the answer body, or what went wrong on the wire
    reason: str  # why it failed ("" when it passed)
    ms: float


def cases(seed: int | None = None) -> list[Case]:
    """The series, with fresh sids each run (so a rerun is not a duplicate of the last one)."""
    reports = Reports(random.randrange(2**63) if seed is None else seed, start=datetime.now(UTC))
    batch = reports.take(100)
    full = encode(batch)
    unknown = {**reports.report(), "report_status": "FAIL", "errmsg": "ZZ:9999", "description": "a code nobody knows"}
    extra = {**reports.report(), "ext": "order-42", "isp_code": 3, "future_field": {"nested": True}}
    cut = encode(reports.take(2))
    return [
        Case("seed sample", "the spec's own sample, masked number and all", encode([SEED_SAMPLE]), ACK),
        Case("full batch", "100 reports in one push, Tencent's maximum", full, ACK),
        Case("duplicate", "the same 100 again, as when an ack was lost: must be acked again", full, ACK),
        Case("lone object", "one report as an object, not in an array", encode(reports.report()), ACK),
        Case("unknown code", "an errmsg that is in no table: keep it, do not refuse it", encode([unknown]), ACK),
        Case("extra fields", "ext and fields Tencent may add later", encode([extra]), ACK),
        Case("not JSON", "a body cut off mid-way: refuse it in JSON, do not crash", cut[: len(cut) // 2], JSON_ANSWER),
        Case("empty array", "a push with no reports: nothing to keep, ack it", b"[]", ACK),
    ]


def _judge_json_answer(response: httpx.Response) -> str | None:
    if response.status_code >= 500:
        return f"HTTP {response.status_code}: a bad body is the sender's fault, not a server error"
    try:
        answer = json.loads(response.content)
    except ValueError:
        return "answer is not JSON"
    if not isinstance(answer, dict) or type(answer.get("result")) is not int:
        return "answer has no integer result field"
    return None


def run_case(client: httpx.Client, url: str, case: Case) -> Outcome:
    began = time.perf_counter()
    try:
        response = client.post(url, content=case.body, headers={"content-type": "application/json"})
    except httpx.TimeoutException:
        return Outcome(
            case,
            False,
            None,
            "",
            "no answer in time (Tencent gives up and retries)",
            (time.perf_counter() - began) * 1000,
        )
    except httpx.TransportError as exc:
        return Outcome(
            case,
            False,
            None,
            "",
            f"connection error: {exc or type(exc).__name__}",
            (time.perf_counter() - began) * 1000,
        )
    ms = (time.perf_counter() - began) * 1000
    judge_answer: Callable[[httpx.Response], str | None] = judge if case.expect == ACK else _judge_json_answer
    reason = judge_answer(response)
    if reason is not None and case.expect == ACK:
        reason = f'expected HTTP 2xx with {{"result": 0}}; {reason}'
    answer = response.text[:120].replace("\n", " ")
    return Outcome(case, reason is None, response.status_code, answer, reason or "", ms)


def check(url: str, *, timeout: float = 5.0, seed: int | None = None) -> list[Outcome]:
    """Send every case to `url` in order; one outcome each."""
    with httpx.Client(timeout=timeout) as client:
        return [run_case(client, url, case) for case in cases(seed)]
