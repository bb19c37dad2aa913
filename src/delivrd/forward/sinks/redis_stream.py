"""A Redis stream: each event one XADD entry (fields `type`, `id`, `timestamp`, `data` as JSON text).

`redis://host:port/db?stream=NAME[&maxlen=N]`. The stream is capped with `MAXLEN ~ N` (approximate, so Redis
trims whole nodes cheaply; default 100000), so a consumer that stops reading cannot fill the server's memory.
A batch goes in one pipeline, one round trip. Redis cannot refuse a duplicate entry: a retry after a lost
answer adds the events again, and consumers deduplicate by the `id` field.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import msgspec
import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from delivrd.forward.event import Event, SinkError
from delivrd.forward.sinks.urls import located

DEFAULT_MAXLEN = 100_000
BATCH_SIZE = 100
#: the longest connecting, or waiting for one answer, may take
TIMEOUT = 10.0
DEFAULT_PORT = 6379


@dataclass(frozen=True)
class Target:
    """Where the events go: a server (its URL without our query), a stream, its cap."""

    server: str
    stream: str
    maxlen: int

    @classmethod
    def parse(cls, url: str) -> Target:
        """The target `url` names; ValueError saying what is wrong otherwise."""
        form = "redis://host:port/db?stream=NAME[&maxlen=N]"
        if urlsplit(url).scheme != "redis":
            raise ValueError(f"url: a Redis stream URL is {form}")
        parts = located(url, "a Redis stream URL", form)
        db = parts.path.lstrip("/")
        if db and not (db.isdigit() and db.isascii()):
            raise ValueError(f"url: the path of a Redis URL is the database number, not {parts.path!r}: {form}")
        query = parse_qsl(parts.query, keep_blank_values=True)
        unknown = sorted({name for name, _ in query} - {"stream", "maxlen"})
        if unknown:
            raise ValueError(f"url: unknown parameter {', '.join(unknown)} (a Redis stream URL is {form})")
        options: dict[str, str] = {}
        for name, value in query:
            if name in options:
                raise ValueError(f"url: {name} is given twice")
            options[name] = value
        stream = options.get("stream", "")
        if not stream:
            raise ValueError(f"url: name the stream: {form}")
        maxlen = options.get("maxlen", str(DEFAULT_MAXLEN))
        if not (maxlen.isdigit() and maxlen.isascii() and int(maxlen) > 0):
            raise ValueError(f"url: maxlen must be a whole number above 0, not {maxlen!r}")
        server = urlunsplit(("redis", parts.netloc, f"/{db or 0}", "", ""))
        return cls(server, stream, int(maxlen))


class RedisStreamSink:
    """XADDs to one stream through a connection pool of its own, connected at the first send."""

    batch_size = BATCH_SIZE

    def __init__(self, url: str, timeout: float | None = None) -> None:
        self.target = Target.parse(url)
        self.timeout = TIMEOUT if timeout is None else timeout  # the constant read at each opening
        # one try per attempt: the dispatcher's schedule retries, not the client behind its back
        self.client = redis.Redis.from_url(
            self.target.server,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),
        )

    async def send(self, events: list[Event]) -> None:
        if not events:
            return
        pipe = self.client.pipeline(transaction=False)
        for event in events:
            fields = {"type": event.type, "id": event.id, "timestamp": event.timestamp, "data": encode(event.data)}
            pipe.xadd(self.target.stream, fields, maxlen=self.target.maxlen, approximate=True)  # type: ignore[arg-type]
        try:
            await pipe.execute()
        except RedisError as exc:
            raise SinkError(reason(exc, self.timeout)) from None
        except OSError as exc:
            raise SinkError(f"Redis: {exc.strerror or exc}") from None

    async def close(self) -> None:
        await self.client.aclose()


encode = msgspec.json.Encoder().encode


def reason(exc: RedisError, timeout: float) -> str:
    """A short reason: refused, timed out, or what Redis answered (a stream key of another type, out of memory)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "Redis: connection refused"
        if isinstance(cause, socket.gaierror):
            return f"Redis: DNS lookup failed: {cause.strerror}"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, RedisTimeoutError):
        return f"Redis: timed out after {timeout:g} s"
    text = str(exc) or type(exc).__name__
    # a pipeline's error names the command before what Redis said: "Command # 1 (XADD …) of pipeline caused error: …"
    return "Redis: " + (text.partition(" of pipeline caused error: ")[2] or text)
