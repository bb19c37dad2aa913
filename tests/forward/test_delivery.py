"""Forwarding end to end, in process on both backends: delivrd's real dispatcher sending to a real receiving server
that verifies every request with the `standardwebhooks` library."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from delivrd.domain.retry_schedule import schedule
from delivrd.forward.secrets import generate_secret
from tests.factories import body, report
from tests.forward.receiver import Receiver

ACK = {"result": 0, "errmsg": "OK"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(generate_secret()) as running:
        yield running


def add(client: Any, receiver: Receiver, **spec: Any) -> dict[str, Any]:
    answer = client.post("/v1/endpoints", json={"url": receiver.url, "secret": receiver.secret, **spec})
    assert answer.status_code == 201, answer.text
    return answer.json()


def push(client: Any, items: list[dict[str, Any]], route: str = "/sms/callback") -> None:
    assert client.post(route, content=body(items)).json() == ACK


def eventually(check: Any, timeout: float = 30.0) -> Any:
    """`check()`'s first true value within `timeout` seconds, polled; AssertionError with the last one if none."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"still {value!r} after {timeout} s"
            return value
        time.sleep(0.05)


def test_every_stored_report_and_reply_arrives_verified_once(client, receiver):
    add(client, receiver)
    push(client, [report(n, report_status="FAIL", errmsg="MK:0005") if n % 3 == 0 else report(n) for n in range(6)])
    push(client, [report(1), report(2)])  # Tencent retrying: counted as duplicates, no new events
    reply = {"extend": "", "mobile": "13800000009", "nationcode": "86", "sign": "s", "text": "hello", "time": 1}
    push(client, [reply], route="/sms/reply")
    assert receiver.wait_for(7), receiver.snapshot()
    time.sleep(1)  # nothing more comes: the duplicate push made no event
    assert receiver.snapshot()["distinct_delivered"] == 7 and receiver.rejected == []
    events = list(receiver.events.values())
    kinds = sorted(e["type"] for e in events)
    assert kinds == ["reply.received"] + ["report.delivered"] * 4 + ["report.failed"] * 2
    # the data is the report exactly as the read API shows it, with its category
    shown = {r["id"]: r for r in client.get("/v1/reports").json()["items"]}
    for event in events:
        if event["type"].startswith("report."):
            data = dict(event["data"])
            category = data.pop("category")
            assert data == shown[data["id"]]
            assert category == ("delivered" if data["report_status"] == "SUCCESS" else "invalid_number")
    assert set(receiver.webhook_ids) == set(receiver.events)  # webhook-id is the event id
    ep = eventually(lambda: (e := client.get("/v1/endpoints").json()["items"][0])["delivered"] == 7 and e)
    assert ep["lag"]["events"] == 0 and ep["failed_attempts"] == 0


def test_a_failed_attempt_is_retried_with_the_same_webhook_id(start_app, receiver):
    app = start_app(retry_schedule=schedule("1s,1s"))
    receiver.fail_first = 1
    add(app.client, receiver)
    push(app.client, [report(n) for n in range(3)])
    assert receiver.wait_for(3), receiver.snapshot()
    assert all(receiver.attempts[i] == 2 for i in receiver.delivered)
    assert sorted(receiver.webhook_ids) == sorted([*receiver.delivered] * 2)
    ep = eventually(lambda: (e := app.client.get("/v1/endpoints").json()["items"][0])["delivered"] == 3 and e)
    assert ep["failed_attempts"] >= 1 and ep["last_error"].startswith("HTTP 500") and ep["failed_events"] == 0


def test_a_receiver_down_for_a_while_gets_everything_when_back(client, receiver):
    add(client, receiver)
    push(client, [report(0)])
    assert receiver.wait_for(1)
    receiver.stop()
    for n in range(1, 41):
        push(client, [report(n)])
    ep = eventually(lambda: (e := client.get("/v1/endpoints").json()["items"][0])["failing_since"] and e)
    assert "connection refused" in ep["last_error"]
    assert ep["lag"]["events"] + ep["lag"]["retrying"] > 0 and ep["lag"]["seconds"] > 0
    receiver.start()
    # the probe finds it back within seconds, and every retry waiting is due at once
    assert receiver.wait_for(41, timeout=30), receiver.snapshot()
    assert receiver.rejected == []
    # what came of the last round is committed just after the receiver answered it
    ep = eventually(lambda: (e := client.get("/v1/endpoints").json()["items"][0])["lag"]["retrying"] == 0 and e)
    assert ep["failing_since"] is None and ep["lag"]["events"] == 0 and ep["delivered"] >= 41


def test_failed_for_good_is_kept_visible_and_a_replay_sends_it_again(start_app, receiver):
    app = start_app(retry_schedule=schedule("1s"))
    receiver.status = 400
    ep = add(app.client, receiver)
    push(app.client, [report(0), report(1)])
    shown = eventually(lambda: (e := app.client.get(f"/v1/endpoints/{ep['id']}").json())["failed_events"] == 2 and e)
    assert shown["lag"]["failed"] == 2 and len(shown["failures"]) == 2
    assert all(f["attempts"] == 2 and f["last_error"].startswith("HTTP 400") for f in shown["failures"])
    assert receiver.delivered_ids() == set()
    receiver.status = None
    since = "2020-01-01T00:00:00Z"
    assert app.client.post(f"/v1/endpoints/{ep['id']}/replay", json={"since": since}).json() == {"queued": 2}
    assert receiver.wait_for({f["id"] for f in shown["failures"]}), receiver.snapshot()


def test_event_types_and_filters_choose_what_is_sent(client, receiver):
    add(client, receiver, events=["report.failed"], filters={"nationcode": ["852"]})
    push(
        client,
        [
            report(0, report_status="FAIL", errmsg="MK:0005", nationcode="852"),  # wanted
            report(1, report_status="FAIL", errmsg="MK:0005"),  # another country
            report(2, nationcode="852"),  # delivered
        ],
    )
    assert receiver.wait_for(1)
    time.sleep(1.5)
    assert [e["data"]["mobile"] for e in receiver.events.values()] == ["13800000000"]


def test_batch_mode_sends_up_to_a_hundred_events_per_request(client, receiver):
    add(client, receiver, batch=True)
    for start in range(0, 250, 50):
        push(client, [report(n) for n in range(start, start + 50)])
    assert receiver.wait_for(250), receiver.snapshot()
    assert receiver.requests < 250 and len(receiver.order) == 250
    assert all(w.startswith("batch_") for w in receiver.webhook_ids)


def test_a_send_with_no_receipt_and_an_opt_out_are_events_too(start_app, receiver):
    app = start_app(no_receipt_after=2)
    add(app.client, receiver, events=["message.no_receipt", "optout.added"])
    sent = {
        "SendStatusSet": [
            {"SerialNo": "2019:9990000000001", "PhoneNumber": "+8613800000001", "Code": "Ok", "Fee": 1},
            {"SerialNo": "2019:9990000000002", "PhoneNumber": "+8613800000002", "Code": "Ok", "Fee": 1},
        ]
    }
    assert app.client.post("/v1/messages", json=sent).status_code == 200
    push(app.client, [report(0, sid="2019:9990000000002", mobile="13800000002")])  # this one got its receipt
    reply = {"extend": "", "mobile": "13800000003", "nationcode": "86", "sign": "s", "text": "TD", "time": 1}
    push(app.client, [reply], route="/sms/reply")
    assert receiver.wait_for(2, timeout=30), receiver.snapshot()
    by_type = {e["type"]: e["data"] for e in receiver.events.values()}
    assert by_type["message.no_receipt"]["sid"] == "2019:9990000000001"
    assert by_type["optout.added"]["phone"] == "+8613800000003"


def test_erasing_a_number_drops_its_queued_events(client, receiver):
    add(client, receiver)
    receiver.stop()  # the events wait
    push(client, [report(0, mobile="13800138000"), report(1, mobile="13900139000")])
    erased = client.delete("/v1/phones/+8613800138000").json()
    assert erased["removed"]["reports"] == 1 and erased["removed"]["events"] == 1
    receiver.start()
    assert receiver.wait_for(1, timeout=30), receiver.snapshot()
    time.sleep(1.5)
    assert [e["data"]["mobile"] for e in receiver.events.values()] == ["13900139000"]
