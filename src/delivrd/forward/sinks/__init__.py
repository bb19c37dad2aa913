"""Where an endpoint's events go, chosen by its URL's scheme: an HTTP webhook, a Redis stream, a NATS subject.

`check_url` is the one place an endpoint URL is judged (its ValueError is the 400 a user sees); `open_sink`
makes the sink that performs the attempts. Each kind's URL form lives in its own module, beside its sink.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from delivrd.forward.event import Sink
from delivrd.forward.sinks import nats_stream, redis_stream, webhook

#: the URL forms accepted, as the error for any other says
FORMS = "http(s)://… (a webhook), redis://host:port/db?stream=NAME[&maxlen=N], nats://host:port?subject=NAME"


def check_url(url: str) -> str:
    """`url` when it names a place events can go; ValueError saying what is wrong otherwise."""
    if not isinstance(url, str) or not url:
        raise ValueError(f"url is required: {FORMS}")
    if len(url) > 2048:
        raise ValueError("url: longer than 2048 characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError("url: contains spaces or control characters (percent-encode them)")
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        webhook.check(url)
    elif scheme == "redis":
        redis_stream.Target.parse(url)
    elif scheme == "nats":
        nats_stream.Target.parse(url)
    else:
        raise ValueError(f"url: {scheme + '://' if scheme else 'no scheme'} is not a kind of endpoint; use {FORMS}")
    return url


def open_sink(url: str, secret: str, batch: bool) -> Sink:
    """The sink for `url` (checked as `check_url` does). `secret` signs webhooks and `batch` makes them arrays
    of up to 100; streams take 100 events per attempt anyway, each one entry, and are not signed."""
    check_url(url)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "redis":
        return redis_stream.RedisStreamSink(url)
    if scheme == "nats":
        return nats_stream.NatsStreamSink(url)
    return webhook.WebhookSink(url, secret, batch)
