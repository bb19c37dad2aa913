"""Streams of the real Redis and NATS servers for the tests: each test's own, deleted afterwards, and read back."""

from __future__ import annotations

import asyncio
import json
import uuid

import nats
import pytest
import redis.asyncio as redis
from nats.js.api import StreamConfig

from tests.services import NATS_URL, REDIS_URL, require_nats, require_redis


def run(scenario):
    return asyncio.run(scenario())


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
