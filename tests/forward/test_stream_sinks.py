"""The Redis and NATS sinks against the real servers (Redis 127.0.0.1:6379, NATS JetStream 127.0.0.1:4222),
each test on a stream of its own, deleted afterwards."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats
import pytest
import redis.asyncio as redis
from nats.js.api import StreamConfig

from delivrd.forward.event import REPLY_RECEIVED, REPORT_FAILED, Event, SinkError
from delivrd.forward.sinks import open_sink
from delivrd.forward.sinks.nats_stream import NatsStreamSink
from delivrd.forward.sinks.redis_stream import DEFAULT_MAXLEN, RedisStreamSink
from tests.forward.receiver import free_port
from tests.services import NATS_URL, REDIS_URL, require_nats, require_redis

T = TypeVar("T")


def event(n: int = 0) -> Event:
    return Event(
        type=REPORT_FAILED if n % 2 else REPLY_RECEIVED,
        id=f"evt_{uuid.uuid4().hex}",
        timestamp="2026-12-07T09:00:00.000000Z",
        data={"sid": f"sid-{n}", "mobile": "13800138000", "text": "退订 ✓"},
    )


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(scenario())  # type: ignore[arg-type]


# -- Redis


@pytest.fixture
def stream():
    """A stream name no other test uses, deleted afterwards."""
    require_redis()
    name = f"delivrd-test-{uuid.uuid4().hex[:12]}"
    yield name

    async def delete() -> None:
        client = redis.Redis.from_url(REDIS_URL)
        await client.delete(name)
        await client.aclose()

    run(delete)


async def xrange(stream: str) -> list[dict[str, str]]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return [fields for _, fields in await client.xrange(stream)]
    finally:
        await client.aclose()


def test_redis_each_event_is_one_entry_with_the_event_as_fields(stream):
    sent = [event(n) for n in range(3)]
    sink = open_sink(f"{REDIS_URL}?stream={stream}", "", batch=False)
    assert sink.batch_size == 100

    async def go() -> list[dict[str, str]]:
        await sink.send(sent)
        await sink.close()
        return await xrange(stream)

    entries = run(go)
    assert [entry["id"] for entry in entries] == [e.id for e in sent]
    for entry, e in zip(entries, sent):
        assert set(entry) == {"type", "id", "timestamp", "data"}
        assert (entry["type"], entry["timestamp"]) == (e.type, e.timestamp)
        assert json.loads(entry["data"]) == e.data


def test_redis_a_retry_adds_the_events_again_for_consumers_to_deduplicate_by_id(stream):
    sent = [event(n) for n in range(2)]
    sink = RedisStreamSink(f"{REDIS_URL}?stream={stream}")

    async def go() -> list[dict[str, str]]:
        await sink.send(sent)
        await sink.send(sent)
        await sink.close()
        return await xrange(stream)

    assert [entry["id"] for entry in run(go)] == [e.id for e in sent] * 2


def test_redis_maxlen_bounds_the_stream_keeping_the_newest(stream):
    maxlen = 150
    sink = RedisStreamSink(f"{REDIS_URL}?stream={stream}&maxlen={maxlen}")
    batches = [[event(n) for n in range(100)] for _ in range(10)]

    async def go() -> tuple[int, int, list[dict[str, str]]]:
        for batch in batches:
            await sink.send(batch)
        await sink.close()
        client = redis.Redis.from_url(REDIS_URL)
        try:
            node = int((await client.config_get("stream-node-max-entries"))["stream-node-max-entries"])
            return await client.xlen(stream), node, await xrange(stream)
        finally:
            await client.aclose()

    length, node, entries = run(go)
    # MAXLEN ~ trims whole nodes: at least maxlen are kept, and less than one node more
    assert maxlen <= length < maxlen + node
    assert length < 1000
    assert entries[-1]["id"] == batches[-1][-1].id


def test_redis_attempts_at_once_through_one_sink_all_arrive(stream):
    batches = [[event(n) for n in range(100)] for _ in range(16)]
    sink = RedisStreamSink(f"{REDIS_URL}?stream={stream}")

    async def go() -> list[dict[str, str]]:
        await asyncio.gather(*(sink.send(batch) for batch in batches))
        await sink.close()
        return await xrange(stream)

    entries = run(go)
    assert sorted(entry["id"] for entry in entries) == sorted(e.id for batch in batches for e in batch)


def test_redis_default_maxlen(stream):
    assert RedisStreamSink(f"{REDIS_URL}?stream={stream}").target.maxlen == DEFAULT_MAXLEN


def test_redis_a_key_of_another_type_is_refused_with_what_redis_said(stream):
    async def go() -> str:
        client = redis.Redis.from_url(REDIS_URL)
        await client.set(stream, "not a stream")
        await client.aclose()
        sink = RedisStreamSink(f"{REDIS_URL}?stream={stream}")
        try:
            with pytest.raises(SinkError) as refused:
                await sink.send([event()])
            return str(refused.value)
        finally:
            await sink.close()

    assert run(go).startswith("Redis: WRONGTYPE")


def test_redis_nothing_listening_is_a_refused_connection():
    sink = RedisStreamSink(f"redis://127.0.0.1:{free_port()}/0?stream=s")

    async def go() -> str:
        try:
            with pytest.raises(SinkError) as refused:
                await sink.send([event()])
            return str(refused.value)
        finally:
            await sink.close()

    reason = run(go)
    assert reason == "Redis: connection refused"


# -- NATS JetStream


@pytest.fixture
def subject():
    """A subject captured by a JetStream stream of its own (deleted afterwards), and the stream's name."""
    require_nats()
    token = uuid.uuid4().hex[:12]
    subject, name = f"delivrd.test.{token}", f"DELIVRD_TEST_{token}"

    async def manage(create: bool) -> None:
        client = await nats.connect(NATS_URL)
        try:
            js = client.jetstream()
            if create:
                await js.add_stream(StreamConfig(name=name, subjects=[subject]))
            else:
                await js.delete_stream(name)
        finally:
            await client.close()

    asyncio.run(manage(True))
    yield subject, name
    asyncio.run(manage(False))


async def stored(name: str) -> list[tuple[dict, dict[str, str]]]:
    """Every message in stream `name`: the event as JSON, and the headers it was published with."""
    client = await nats.connect(NATS_URL)
    try:
        js = client.jetstream()
        info = await js.stream_info(name)
        messages = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(name, seq)
            messages.append((json.loads(msg.data or b""), dict(msg.headers or {})))
        return messages
    finally:
        await client.close()


def test_nats_each_event_is_one_message_with_its_id_as_nats_msg_id(subject):
    subject_name, stream = subject
    sent = [event(n) for n in range(3)]
    sink = open_sink(f"{NATS_URL}?subject={subject_name}", "", batch=True)
    assert sink.batch_size == 100

    async def go() -> list[tuple[dict, dict[str, str]]]:
        await sink.send(sent)
        await sink.close()
        return await stored(stream)

    messages = run(go)
    assert [body for body, _ in messages] == [
        {"type": e.type, "id": e.id, "timestamp": e.timestamp, "data": e.data} for e in sent
    ]
    assert [headers["Nats-Msg-Id"] for _, headers in messages] == [e.id for e in sent]


def test_nats_the_stream_keeps_one_message_when_an_event_is_published_again(subject):
    subject_name, stream = subject
    first, second = event(1), event(2)
    sink = NatsStreamSink(f"{NATS_URL}?subject={subject_name}")

    async def go() -> list[tuple[dict, dict[str, str]]]:
        await sink.send([first])
        await sink.send([first])  # a retry after a lost ack
        await sink.send([first, second])  # a batch retried with one event more
        await sink.close()
        return await stored(stream)

    assert [body["id"] for body, _ in run(go)] == [first.id, second.id]


def test_nats_attempts_at_once_through_one_sink_all_arrive_each_batch_in_order(subject):
    subject_name, stream = subject
    batches = [[event(n) for n in range(100)] for _ in range(16)]
    sink = NatsStreamSink(f"{NATS_URL}?subject={subject_name}")

    async def go() -> list[tuple[dict, dict[str, str]]]:
        await asyncio.gather(*(sink.send(batch) for batch in batches))
        await sink.close()
        return await stored(stream)

    ids = [body["id"] for body, _ in run(go)]
    assert sorted(ids) == sorted(e.id for batch in batches for e in batch)
    for batch in batches:
        its_ids = {e.id for e in batch}
        assert [i for i in ids if i in its_ids] == [e.id for e in batch]


def test_nats_a_subject_no_stream_captures_is_a_clear_failure():
    require_nats()
    subject_name = f"delivrd.nostream.{uuid.uuid4().hex[:12]}"
    sink = NatsStreamSink(f"{NATS_URL}?subject={subject_name}")

    async def go() -> str:
        try:
            with pytest.raises(SinkError) as refused:
                await sink.send([event(), event()])
            return str(refused.value)
        finally:
            await sink.close()

    assert run(go) == (
        f"NATS: no JetStream stream captures subject {subject_name}; create one, e.g."
        f" `nats stream add DELIVRD --subjects {subject_name}`"
    )


def test_nats_a_lost_connection_is_replaced_at_the_next_send(subject):
    subject_name, stream = subject
    sink = NatsStreamSink(f"{NATS_URL}?subject={subject_name}")
    before, after = event(1), event(2)

    async def go() -> list[tuple[dict, dict[str, str]]]:
        await sink.send([before])
        lost = sink.client
        assert lost is not None
        await lost.close()  # as when the server goes away: the client does not reconnect by itself
        await sink.send([after])
        assert sink.client is not lost and sink.client is not None and sink.client.is_connected
        await sink.close()
        assert sink.client is None
        await sink.close()  # twice is harmless
        return await stored(stream)

    assert [body["id"] for body, _ in run(go)] == [before.id, after.id]


def test_nats_nothing_listening_is_a_refused_connection():
    port = free_port()
    sink = NatsStreamSink(f"nats://127.0.0.1:{port}?subject=s")

    async def go() -> str:
        try:
            with pytest.raises(SinkError) as refused:
                await sink.send([event()])
            return str(refused.value)
        finally:
            await sink.close()

    assert run(go) == f"NATS: cannot connect to nats://127.0.0.1:{port}: connection refused"
