"""The webhook sink against a real HTTP consumer that verifies every request with `standardwebhooks`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from delivrd import __version__
from delivrd.forward.event import REPORT_DELIVERED, Event, SinkError
from delivrd.forward.secrets import generate_secret
from delivrd.forward.sinks.webhook import WebhookSink
from tests.forward.receiver import Receiver, free_port

SECRET = generate_secret()


def event(n: int = 0) -> Event:
    return Event(
        type=REPORT_DELIVERED,
        id=f"evt_{uuid.uuid4().hex}",
        timestamp="2026-12-07T09:00:00.000000Z",
        data={"sid": f"sid-{n}", "mobile": "13800138000", "report_status": "SUCCESS", "category": "delivered"},
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(SECRET) as running:
        yield running
    assert running.rejected == [], "a request failed verification"


def attempts(sink: WebhookSink, *batches: list[Event]) -> list[str | None]:
    """Send each batch once with `sink` (then close it): None for a delivery, else the SinkError's message."""

    async def go() -> list[str | None]:
        outcomes: list[str | None] = []
        try:
            for batch in batches:
                try:
                    await sink.send(batch)
                    outcomes.append(None)
                except SinkError as exc:
                    outcomes.append(str(exc))
        finally:
            await sink.close()
        return outcomes

    return asyncio.run(go())


def test_one_event_is_posted_signed_with_its_id_as_webhook_id(receiver):
    sent = event()
    assert attempts(WebhookSink(receiver.url, SECRET), [sent]) == [None]
    assert receiver.delivered == {sent.id: 1}
    assert receiver.webhook_ids == [sent.id]
    assert receiver.events[sent.id] == {
        "type": sent.type,
        "id": sent.id,
        "timestamp": sent.timestamp,
        "data": sent.data,
    }
    assert receiver.last_headers["content-type"] == "application/json"
    assert receiver.last_headers["user-agent"] == f"delivrd/{__version__}"
    assert receiver.last_headers["webhook-signature"].startswith("v1,")


def test_a_batch_is_one_signed_array(receiver):
    sent = [event(n) for n in range(100)]
    assert attempts(WebhookSink(receiver.url, SECRET, batch=True), sent) == [None]
    assert receiver.requests == 1
    assert receiver.order == [e.id for e in sent]
    [webhook_id] = receiver.webhook_ids
    assert webhook_id.startswith("batch_")


def test_a_retried_batch_has_the_same_webhook_id_and_another_batch_another(receiver):
    receiver.fail_first = 1
    first, second = [event(n) for n in range(5)], [event(n) for n in range(5)]
    outcomes = attempts(WebhookSink(receiver.url, SECRET, batch=True), first, first, second, second)
    assert outcomes == ['HTTP 500: {"error":"told to answer 500"}', None] * 2
    assert receiver.webhook_ids[0] == receiver.webhook_ids[1]
    assert receiver.webhook_ids[2] == receiver.webhook_ids[3]
    assert receiver.webhook_ids[0] != receiver.webhook_ids[2]
    assert receiver.delivered_ids() == {e.id for e in first + second}


def test_a_retried_event_has_the_same_webhook_id(receiver):
    receiver.fail_first = 2
    sent = event()
    outcomes = attempts(WebhookSink(receiver.url, SECRET), [sent], [sent], [sent])
    assert [o and o.split(":")[0] for o in outcomes] == ["HTTP 500", "HTTP 500", None]
    assert receiver.webhook_ids == [sent.id] * 3
    assert receiver.attempts[sent.id] == 3
    assert receiver.delivered[sent.id] == 1


def test_a_non_2xx_answer_is_a_failure_with_the_start_of_its_body(receiver):
    receiver.status = 503
    receiver.answer_body = b"maintenance " + b"x" * 5000
    [reason] = attempts(WebhookSink(receiver.url, SECRET), [event()])
    assert reason is not None
    assert reason.startswith("HTTP 503: maintenance xxx")
    assert len(reason) == len("HTTP 503: ") + 200
    assert receiver.delivered_ids() == set()


def test_a_redirect_is_a_failure_and_not_followed(receiver):
    receiver.status = 307  # pointing back at the receiver's own URL: followed, it would arrive twice
    [reason] = attempts(WebhookSink(receiver.url, SECRET), [event()])
    assert reason == f"HTTP 307 (to {receiver.url}): redirects are not followed; register the URL it points to"
    assert receiver.requests == 1


def test_a_consumer_that_does_not_answer_in_time_is_a_timeout(receiver):
    receiver.delay = 60  # cut short when the receiver stops
    [reason] = attempts(WebhookSink(receiver.url, SECRET, timeout=0.5), [event()])
    assert reason == "timed out after 0.5 s"


def test_a_consumer_that_is_down_refuses_then_gets_the_event_when_back(receiver):
    sink = WebhookSink(receiver.url, SECRET)
    before, during, after = event(), event(), event()

    async def go() -> list[str | None]:
        outcomes: list[str | None] = []
        for step, sent in (("up", before), ("down", during), ("up", after), ("up", during)):
            if step == "down":
                receiver.stop()
            elif receiver.thread is None:
                receiver.start()
            try:
                await sink.send([sent])
                outcomes.append(None)
            except SinkError as exc:
                outcomes.append(str(exc))
        await sink.close()
        return outcomes

    # the receiver's start and stop block: they run in a thread beside this loop
    assert asyncio.run(go()) == [None, "connection refused", None, None]
    assert receiver.delivered_ids() == {before.id, during.id, after.id}


def test_a_host_that_does_not_resolve_is_a_dns_failure():
    [reason] = attempts(WebhookSink("http://no-such-host.invalid/hooks", SECRET), [event()])
    assert reason is not None
    assert reason.startswith("DNS lookup failed for no-such-host.invalid: ")


def test_https_to_a_server_that_speaks_plain_http_is_a_tls_error(receiver):
    [reason] = attempts(WebhookSink(f"https://127.0.0.1:{receiver.port}/hooks/delivrd", SECRET), [event()])
    assert reason is not None
    assert reason.startswith("TLS error: ")
    assert receiver.requests == 0


def test_nothing_listening_is_a_refused_connection():
    [reason] = attempts(WebhookSink(f"http://127.0.0.1:{free_port()}/", SECRET), [event()])
    assert reason == "connection refused"


def test_a_request_signed_with_another_secret_fails_verification():
    with Receiver(SECRET) as receiver:
        [reason] = attempts(WebhookSink(receiver.url, generate_secret()), [event()])
        assert reason is not None
        assert reason.startswith("HTTP 401")
        assert receiver.rejected == ["No matching signature found"]
        assert receiver.delivered_ids() == set()


def test_a_sink_with_a_bad_secret_is_refused_at_opening():
    with pytest.raises(ValueError, match="secret must start with 'whsec_'"):
        WebhookSink("https://example.com/", "hunter2")


def test_more_events_than_a_single_mode_sink_takes_is_a_programming_error():
    sink = WebhookSink("http://127.0.0.1:9/", SECRET)
    with pytest.raises(ValueError, match="at most 1"):
        asyncio.run(sink.send([event(), event()]))
    asyncio.run(sink.close())


def test_attempts_at_once_through_one_sink_all_arrive_verified(receiver):
    """The dispatcher has several attempts in flight to one endpoint: one sink carries them side by side."""
    batches = [[event(n) for n in range(100)] for _ in range(20)]
    sink = WebhookSink(receiver.url, SECRET, batch=True)

    async def go() -> None:
        await asyncio.gather(*(sink.send(batch) for batch in batches))
        await sink.close()

    asyncio.run(go())
    assert receiver.delivered_ids() == {e.id for batch in batches for e in batch}
    assert receiver.requests == 20
