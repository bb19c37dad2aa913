"""A webhook consumer for the forwarding benchmark: verifies every request as a real consumer must (the
`standardwebhooks` package), counts the events and how long after they happened each arrived.

`GET /stats` answers what it saw: events, distinct ids, requests, bad signatures, and the lag (arrival minus
the event's `timestamp`) percentiles in milliseconds. The secret comes from BENCH_SECRET.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

verify = Webhook(os.environ["BENCH_SECRET"]).verify
seen: set[str] = set()
lags_ms: list[float] = []
counts = {"requests": 0, "events": 0, "bad_signatures": 0}


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def stats() -> bytes:
    return json.dumps(
        {
            **counts,
            "unique": len(seen),
            "lag_ms": {q: _percentile(lags_ms, float(q)) for q in ("0.5", "0.9", "0.99", "1.0")},
        }
    ).encode()


async def _answer(send, status: int, body: bytes = b"") -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["method"] == "GET":
        return await _answer(send, 200, stats())
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    counts["requests"] += 1
    try:
        payload = verify(body, headers)
    except WebhookVerificationError:
        counts["bad_signatures"] += 1
        return await _answer(send, 400)
    now = time.time()
    for event in payload if isinstance(payload, list) else [payload]:
        counts["events"] += 1
        seen.add(event["id"])
        lags_ms.append((now - datetime.fromisoformat(event["timestamp"]).timestamp()) * 1000)
    await _answer(send, 204)
