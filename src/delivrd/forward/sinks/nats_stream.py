"""A NATS JetStream subject: each event one publish with `Nats-Msg-Id: <event id>`, delivered when acked.

`nats://host:port?subject=NAME`. A JetStream stream must capture the subject (delivrd does not create one:
its retention, storage and replicas are the operator's choice); the stream drops a message whose
`Nats-Msg-Id` it saw within its duplicate window (`duplicate_window`, 2 minutes by default), so a retry
soon after a lost ack stores nothing twice. Later duplicates (a replay, a retry hours on) are stored again:
consumers deduplicate by the event's `id`, which the message id equals.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from delivrd.forward.event import Event, SinkError, encode
from delivrd.forward.sinks.urls import located

BATCH_SIZE = 100
#: the longest connecting, or waiting for a batch's acks, may take
TIMEOUT = 10.0
DEFAULT_PORT = 4222


@dataclass(frozen=True)
class Target:
    """Where the events go: a server and a subject."""

    server: str
    subject: str

    @property
    def shown(self) -> str:
        """The server as errors name it: without a user or password the URL may carry."""
        return "nats://" + self.server.rpartition("@")[2].removeprefix("nats://")

    @classmethod
    def parse(cls, url: str) -> Target:
        """The target `url` names; ValueError saying what is wrong otherwise."""
        form = "nats://host:port?subject=NAME"
        if urlsplit(url).scheme != "nats":
            raise ValueError(f"url: a NATS URL is {form}")
        parts = located(url, "a NATS URL", form)
        if parts.path not in ("", "/"):
            raise ValueError(f"url: a NATS URL has no path ({parts.path!r}); the subject goes in the query: {form}")
        query = parse_qsl(parts.query, keep_blank_values=True)
        unknown = sorted({name for name, _ in query} - {"subject"})
        if unknown:
            raise ValueError(f"url: unknown parameter {', '.join(unknown)} (a NATS URL is {form})")
        subjects = [value for _, value in query]
        if len(subjects) != 1 or not subjects[0]:
            raise ValueError(f"url: name one subject: {form}")
        subject = subjects[0]
        tokens = subject.split(".")
        if any(not token or token in ("*", ">") or any(c.isspace() for c in token) for token in tokens):
            raise ValueError(
                f"url: {subject!r} is not a subject to publish to (dot-separated names, no spaces, no * or > wildcards)"
            )
        return cls(urlunsplit(("nats", parts.netloc, "", "", "")), subject)


class NatsStreamSink:
    """Publishes to one subject over a connection of its own, opened at the first send and again after a loss.

    The client's own reconnecting is off: while the server is away an attempt fails at once (the dispatcher's
    schedule retries), rather than waiting inside the client, and the next attempt connects afresh.
    """

    batch_size = BATCH_SIZE

    def __init__(self, url: str, timeout: float | None = None) -> None:
        self.target = Target.parse(url)
        self.timeout = TIMEOUT if timeout is None else timeout  # the constant read at each opening
        self.client: Client | None = None
        #: the client's JetStream context, kept with it: its first async publish subscribes an inbox for acks
        self.js: JetStreamContext | None = None
        self.connecting = asyncio.Lock()
        self.last_error: Exception | None = None

    async def send(self, events: list[Event]) -> None:
        if not events:
            return
        js = await self._connected()
        subject = self.target.subject
        try:
            async with asyncio.timeout(self.timeout):
                # written in order, then every ack awaited together: one round trip for the batch
                acks = [
                    await js.publish_async(subject, encode(event), headers={"Nats-Msg-Id": event.id})
                    for event in events
                ]
                results = await asyncio.gather(*acks, return_exceptions=True)
        except TimeoutError:
            raise SinkError(f"NATS: no ack from JetStream within {self.timeout:g} s") from None
        except nats.errors.Error as exc:
            raise SinkError(f"NATS: {str(exc) or type(exc).__name__}") from None
        for result in results:
            if isinstance(result, BaseException):
                raise SinkError(self._reason(result)) from None

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, nats.js.errors.NoStreamResponseError):
            subject = self.target.subject
            return f"NATS: no JetStream stream captures subject {subject}; create one, e.g. `nats stream add DELIVRD --subjects {subject}`"
        if isinstance(exc, nats.js.errors.APIError):
            return f"NATS: JetStream refused the message: {exc.description} (code {exc.err_code})"
        return f"NATS: {str(exc) or type(exc).__name__}"

    async def _connected(self) -> JetStreamContext:
        """JetStream on the open connection, or on a new one when there is none or it was lost (SinkError if none
        can be made)."""
        async with self.connecting:
            if self.client is not None and self.client.is_connected and self.js is not None:
                return self.js
            await self._drop()
            self.last_error = None
            try:
                async with asyncio.timeout(self.timeout):
                    self.client = await nats.connect(
                        self.target.server,
                        name="delivrd",
                        connect_timeout=max(1, round(self.timeout)),
                        allow_reconnect=False,
                        # the first connect tries twice (nats-py's loop): at once, not after the default 2 s
                        max_reconnect_attempts=1,
                        reconnect_time_wait=0,
                        error_cb=self._remember,
                    )
            except TimeoutError:
                raise SinkError(
                    f"NATS: cannot connect to {self.target.shown}: timed out after {self.timeout:g} s"
                ) from None
            except (nats.errors.Error, OSError) as exc:
                cause = self.last_error or exc
                raise SinkError(f"NATS: cannot connect to {self.target.shown}: {describe(cause)}") from None
            self.js = self.client.jetstream(timeout=self.timeout)
            return self.js

    async def _remember(self, exc: Exception) -> None:
        """nats-py's error callback: the last error kept for the next SinkError, not logged at ERROR each time."""
        self.last_error = exc

    async def _drop(self) -> None:
        client, self.client, self.js = self.client, None, None
        if client is not None and not client.is_closed:
            try:
                await client.close()
            except Exception:  # a connection already broken closes with whatever error; it is gone either way
                pass

    async def close(self) -> None:
        async with self.connecting:
            await self._drop()


def describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
