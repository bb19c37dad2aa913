"""An HTTP endpoint: each attempt one POST, signed per Standard Webhooks, delivered only on a 2xx answer.

Single mode: the body is one event and `webhook-id` is the event's id, the same on every retry. Batch mode: the
body is a JSON array of up to 100 events and `webhook-id` is `batch_` and the start of the SHA-256 of their ids,
so a retried batch with the same events carries the same `webhook-id`; a batch's events may come again in
another batch (after a replay, or a retry made of other events), so consumers deduplicate by each event's `id`.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
from standardwebhooks.webhooks import Webhook

from delivrd import __version__
from delivrd.forward.event import Event, SinkError, encode
from delivrd.forward.secrets import check_secret
from delivrd.forward.sinks.urls import located

#: the longest one attempt may take, connecting to the last byte of the answer
TIMEOUT = 10.0
#: events per request in batch mode (the volume Tencent itself pushes)
BATCH_SIZE = 100
#: connections kept to one endpoint: as many as the dispatcher has attempts in flight to it, so none waits
#: for a connection inside its timeout
CONNECTIONS = 16
#: seconds an idle connection to a consumer is kept for the next attempt
KEEPALIVE = 4.0
#: at most this much of a refusing answer's body goes into the error
BODY_EXCERPT = 200
#: at most this much of any answer is read (the rest is not waited for)
MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = f"delivrd/{__version__}"


def check(url: str) -> str:
    """`url` when it is an http(s) URL with a host; ValueError otherwise."""
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise ValueError(f"url: a webhook URL starts with http:// or https://, not {scheme}://")
    parts = located(url, "a webhook URL", "https://example.com/hooks/sms")
    if parts.fragment:
        raise ValueError("url: a webhook URL has no #fragment (it is never sent)")
    return url


def batch_id(events: list[Event]) -> str:
    """The `webhook-id` of a batch: the same events in the same order always give the same one."""
    digest = hashlib.sha256("\n".join(event.id for event in events).encode()).hexdigest()
    return f"batch_{digest[:32]}"


class WebhookSink:
    """POSTs to one URL through a client of its own (connections kept alive between attempts)."""

    def __init__(self, url: str, secret: str, batch: bool = False, timeout: float | None = None) -> None:
        self.url = check(url)
        self.host = urlsplit(url).hostname or ""
        self.batch = batch
        self.batch_size = BATCH_SIZE if batch else 1
        self.timeout = TIMEOUT if timeout is None else timeout  # the constant read at each opening
        self.signer = Webhook(check_secret(secret))
        # aiohttp rather than httpx: 70 µs of CPU per request here against httpx's 1.7 ms with 16 requests in
        # flight (its connection pool and async-library detection, per request); forwarding runs beside ingest.
        # No redirects followed: the URL is the one its owner registered, and a 3xx is not a delivery.
        self.client: aiohttp.ClientSession | None = None

    async def send(self, events: list[Event]) -> None:
        if not events:
            return
        if len(events) > self.batch_size:
            raise ValueError(f"{len(events)} events for one attempt; this endpoint takes at most {self.batch_size}")
        if self.batch:
            body, msg_id = encode(events), batch_id(events)
        else:
            body, msg_id = encode(events[0]), events[0].id
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.signer.sign(msg_id, now, body),
        }
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    status, answer, location = await self._post(body, headers)
                except aiohttp.ServerDisconnectedError:
                    # a kept-alive connection the consumer had closed: once more on a new one (at least once)
                    status, answer, location = await self._post(body, headers)
        except TimeoutError:
            raise SinkError(f"timed out after {self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise SinkError(why_not_connected(exc, self.host)) from None
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            to = f" (to {location[:BODY_EXCERPT]})" if location else ""
            raise SinkError(f"HTTP {status}{to}: redirects are not followed; register the URL it points to")
        excerpt = " ".join(answer[: BODY_EXCERPT * 4].decode("utf-8", "replace").split())[:BODY_EXCERPT]
        raise SinkError(f"HTTP {status}" + (f": {excerpt}" if excerpt else ""))

    async def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str | None]:
        """The answer's status, the start of its body (read whole when small, so the connection is reused) and
        where a redirect points."""
        if self.client is None:  # made on the event loop that uses it
            self.client = aiohttp.ClientSession(
                # idle connections dropped before a consumer's own keep-alive timeout would (uvicorn's is 5 s)
                connector=aiohttp.TCPConnector(limit=CONNECTIONS, keepalive_timeout=KEEPALIVE),
                headers={"user-agent": USER_AGENT},
                skip_auto_headers=("user-agent",),
            )
        async with self.client.post(self.url, data=body, headers=headers, allow_redirects=False) as response:
            answer = b""
            async for chunk in response.content.iter_any():
                answer += chunk
                if len(answer) >= MAX_ANSWER_BYTES:
                    break
            return response.status, answer, response.headers.get("location")

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


def why_not_connected(exc: aiohttp.ClientError, host: str) -> str:
    """A short reason for a request that got no answer: the cause aiohttp wraps, named as a person would."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS error: {getattr(exc.certificate_error, 'verify_message', exc.certificate_error)}"
    cause: BaseException | None = getattr(exc, "os_error", None) or exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed for {host}: {cause.strerror}"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS error: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {(cause.reason or str(cause)).lower().replace('_', ' ')}"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return f"connection closed without a valid answer: {exc}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
