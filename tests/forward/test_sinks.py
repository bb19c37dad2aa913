"""Which endpoint URLs are accepted, what a refused one is told, and which sink each URL opens."""

from __future__ import annotations

import asyncio
import re

import pytest

from delivrd.forward.secrets import generate_secret
from delivrd.forward.sinks import check_url, open_sink
from delivrd.forward.sinks.nats_stream import NatsStreamSink
from delivrd.forward.sinks.redis_stream import RedisStreamSink
from delivrd.forward.sinks.webhook import WebhookSink

ACCEPTED = [
    "https://example.com/hooks/sms",
    "http://127.0.0.1:9000/",
    "HTTPS://Example.COM:8443/a?b=c",
    "https://user:pass@example.com/hook",
    "redis://127.0.0.1:6379/0?stream=delivrd",
    "redis://redis.internal?stream=events&maxlen=5000",
    "redis://:secret@127.0.0.1:6379/3?stream=a:b",
    "nats://127.0.0.1:4222?subject=delivrd.events",
    "nats://user:pw@nats.internal?subject=sms",
]

REFUSED = [
    ("", "url is required"),
    ("example.com/hook", "no scheme is not a kind of endpoint"),
    ("ftp://example.com/", "ftp:// is not a kind of endpoint"),
    ("rediss://example.com?stream=x", "rediss:// is not a kind of endpoint"),
    ("https://", "needs a host"),
    ("https://example.com:99999/", "port"),
    ("https://example.com/a b", "spaces"),
    ("https://example.com/#top", "fragment"),
    ("redis://127.0.0.1:6379/0", "name the stream"),
    ("redis://127.0.0.1:6379/0?stream=", "name the stream"),
    ("redis://127.0.0.1/x?stream=s", "database number"),
    ("redis://127.0.0.1/0?stream=s&maxlen=0", "maxlen must be a whole number above 0"),
    ("redis://127.0.0.1/0?stream=s&maxlen=-5", "maxlen must be a whole number above 0"),
    ("redis://127.0.0.1/0?stream=s&foo=1", "unknown parameter foo"),
    ("redis://127.0.0.1/0?stream=a&stream=b", "stream is given twice"),
    ("nats://127.0.0.1:4222", "name one subject"),
    ("nats://127.0.0.1:4222?subject=a&subject=b", "name one subject"),
    ("nats://127.0.0.1:4222?subject=events.>", "not a subject to publish to"),
    ("nats://127.0.0.1:4222?subject=a..b", "not a subject to publish to"),
    ("nats://127.0.0.1:4222/x?subject=a", "no path"),
    ("nats://127.0.0.1?stream=a", "unknown parameter stream"),
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_accepted_urls_come_back_unchanged(url):
    assert check_url(url) == url


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_refused_urls_say_why(url, why):
    with pytest.raises(ValueError, match=re.escape(why)):
        check_url(url)


def test_each_url_opens_its_kind_of_sink():
    secret = generate_secret()

    async def go() -> list[tuple[type, int]]:
        sinks = [
            open_sink("https://example.com/h", secret, batch=False),
            open_sink("https://example.com/h", secret, batch=True),
            open_sink("redis://127.0.0.1:6379/0?stream=s", secret, batch=False),
            open_sink("nats://127.0.0.1:4222?subject=s", secret, batch=False),
        ]
        kinds = [(type(sink), sink.batch_size) for sink in sinks]
        for sink in sinks:
            await sink.close()
        return kinds

    assert asyncio.run(go()) == [(WebhookSink, 1), (WebhookSink, 100), (RedisStreamSink, 100), (NatsStreamSink, 100)]


def test_open_sink_refuses_what_check_url_refuses():
    with pytest.raises(ValueError, match="not a kind of endpoint"):
        open_sink("mqtt://127.0.0.1:1883/topic", generate_secret(), batch=False)
