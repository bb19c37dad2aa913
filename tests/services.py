"""The message servers the stream sinks' tests talk to: Redis on 127.0.0.1:6379, NATS with JetStream on 4222.

As with `require_postgres`: a test needing one that does not answer skips, with the reason, and fails under
CI=true (where the servers must be there).
"""

from __future__ import annotations

import asyncio
import os

import pytest

REDIS_URL = os.environ.get("DELIVRD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("DELIVRD_TEST_NATS_URL", "nats://127.0.0.1:4222")

_reachable: dict[str, str | None] = {}


def _require(name: str, check) -> None:
    if name not in _reachable:
        try:
            asyncio.run(asyncio.wait_for(check(), 5))
            _reachable[name] = None
        except Exception as exc:  # any reason it cannot be used is a reason to skip
            _reachable[name] = f"{name} not reachable: {type(exc).__name__}: {exc}"
    reason = _reachable[name]
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + f" (CI=true: the {name} tests must run)")
        pytest.skip(reason)


async def _ping_redis() -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _ping_jetstream() -> None:
    import nats

    client = await nats.connect(NATS_URL, allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0)
    try:
        await client.jetstream().account_info()
    finally:
        await client.close()


def require_redis() -> None:
    """Skip (fail under CI=true) when the test Redis server does not answer."""
    _require(f"Redis at {REDIS_URL}", _ping_redis)


def require_nats() -> None:
    """Skip (fail under CI=true) when the test NATS server does not answer or has no JetStream."""
    _require(f"NATS JetStream at {NATS_URL}", _ping_jetstream)
