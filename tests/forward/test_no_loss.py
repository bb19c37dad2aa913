"""The forwarding promise with real processes: `kill -9` of delivrd while it forwards under load, then a restart:
every acked report's event arrives at least once (checked by the report's sid), and the only duplicates are of
events that had already arrived before the kill. For a webhook (both backends), a Redis stream and a NATS
JetStream subject; and several workers on PostgreSQL, each event sent by one of them at a time."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from delivrd.forward.secrets import generate_secret
from tests.factories import body, report
from tests.forward.receiver import Receiver
from tests.forward.streams import stored, xrange
from tests.services import NATS_URL, REDIS_URL


class Pusher:
    """Pushes batches of new reports to a server until stopped (about 1,000 reports a second: steady load, not a
    flood that would take the webhook's single mode minutes to forward), keeping the sids of those acked."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.acked: set[str] = set()
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                items = [report(self.sent + i, prefix=self.prefix) for i in range(20)]
                self.sent += 20
                try:
                    answer = client.post(self.url + "/sms/callback", content=body(items))
                except httpx.TransportError:
                    time.sleep(0.05)  # the server is down (killed): what was not acked is not counted
                    continue
                if answer.status_code == 200 and answer.json().get("result") == 0:
                    self.acked.update(item["sid"] for item in items)
                time.sleep(0.02)

    def __enter__(self) -> Pusher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def kill_while_forwarding(start_server: Any, url: str, read: Callable[[], list[dict[str, Any]]], *args: str) -> None:
    """Push and forward; kill -9 delivrd mid-way; restart it; then check the promise on what `read` returns (every
    event the sink has, repeats included)."""
    server = start_server("--retry-schedule", "1s,2s,5s", *args)
    answer = httpx.post(server.url + "/v1/endpoints", json={"url": url, "secret": SECRET})
    assert answer.status_code == 201, answer.text
    with Pusher(server.url, "2019:7") as pusher:
        time.sleep(3)  # the dispatcher picks the endpoint up within 2 s, then forwards as reports come
        server.kill()
        before_kill = {e["id"] for e in read()}
        server.start()
        time.sleep(1)
    acked = pusher.acked
    assert len(acked) > 100 and before_kill, "too little happened before the kill to test anything"
    deadline = time.monotonic() + 90  # the new process takes the endpoint over once the dead one's lease ends
    while True:
        events = read()
        arrived = {e["data"]["sid"] for e in events}
        if acked <= arrived or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    missing = acked - arrived
    assert not missing, f"{len(missing)} acked reports never arrived, e.g. {sorted(missing)[:3]}"
    repeats = {event_id for event_id, n in Counter(e["id"] for e in events).items() if n > 1}
    assert repeats <= before_kill, (
        f"duplicates of events first sent after the restart: {sorted(repeats - before_kill)[:5]}"
    )
    assert all(e["type"] == "report.delivered" for e in events)


SECRET = generate_secret()


def test_kill_9_while_forwarding_to_a_webhook_loses_no_event(start_server):
    with Receiver(SECRET) as receiver:

        def read() -> list[dict[str, Any]]:
            with receiver.lock:
                return [receiver.events[i] for i in receiver.order]

        kill_while_forwarding(start_server, receiver.url, read)
        assert receiver.rejected == []


@pytest.mark.backends("sqlite")
def test_kill_9_while_forwarding_to_a_redis_stream_loses_no_event(start_server, stream):
    def read() -> list[dict[str, Any]]:
        entries = asyncio.run(xrange(stream))
        return [{**fields, "data": json.loads(fields["data"])} for fields in entries]

    kill_while_forwarding(start_server, f"{REDIS_URL}?stream={stream}", read)


@pytest.mark.backends("sqlite")
def test_kill_9_while_forwarding_to_nats_jetstream_loses_no_event(start_server, subject):
    subject_name, stream_name = subject

    def read() -> list[dict[str, Any]]:
        return [event for event, _ in asyncio.run(stored(stream_name))]

    kill_while_forwarding(start_server, f"{NATS_URL}?subject={subject_name}", read)


class TimedReceiver(Receiver):
    """A receiver that also keeps when each request carrying an event began and ended."""

    def __init__(self, secret: str) -> None:
        super().__init__(secret)
        self.spans: list[tuple[str, float, float]] = []

    async def receive(self, request: Request) -> Response:
        began = time.monotonic()
        answer = await super().receive(request)
        ended = time.monotonic()
        events = json.loads(await request.body())
        with self.lock:
            self.spans.extend((e["id"], began, ended) for e in (events if isinstance(events, list) else [events]))
        return answer


@pytest.mark.backends("postgresql")
def test_several_workers_send_each_event_once_at_a_time(start_server):
    receivers = [TimedReceiver(SECRET).start() for _ in range(3)]
    try:
        for r in receivers:
            r.delay = 0.01  # requests take a while: two senders of one event would overlap
        server = start_server("--workers", "2")
        for r in receivers:
            assert httpx.post(server.url + "/v1/endpoints", json={"url": r.url, "secret": SECRET}).status_code == 201
        with httpx.Client(timeout=10) as client:
            for start in range(0, 600, 50):
                items = [report(n, prefix="2019:8") for n in range(start, start + 50)]
                assert client.post(server.url + "/sms/callback", content=body(items)).json()["result"] == 0
        for r in receivers:
            assert r.wait_for(600, timeout=60), r.snapshot()
            assert r.rejected == []
            by_id: dict[str, list[tuple[float, float]]] = {}
            for event_id, began, ended in r.spans:
                by_id.setdefault(event_id, []).append((began, ended))
            for event_id, spans in by_id.items():
                spans.sort()
                for (_, first_end), (second_begin, _) in itertools.pairwise(spans):
                    assert second_begin >= first_end, f"{event_id} was being sent twice at once"
        # both workers serve; the leases spread or not, but every endpoint is held by one at a time
        leases = {e["id"] for e in httpx.get(server.url + "/v1/endpoints").json()["items"]}
        assert len(leases) == 3
    finally:
        for r in receivers:
            r.stop()
