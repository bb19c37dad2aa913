"""The callback routes the provider (Tencent) calls, as plain ASGI: the hot path, with nothing in the way.

Each request body becomes one `Push` (inbox row + rows decoded by the provider + quarantined
items) that the writer commits; the ack is sent only after that commit. Whatever goes
wrong, the answer is JSON with a `result` code from `delivrd.domain.results`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import msgspec

from delivrd import metrics
from delivrd.domain import clock, results
from delivrd.domain.push import CALLBACK, REPLY, Push
from delivrd.providers.base import BodyError, Provider
from delivrd.writer.group_commit import Writer, WriteRefused

log = logging.getLogger("delivrd.wire.callbacks")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON_HEADERS = [(b"content-type", b"application/json")]
# the ack's two ASGI messages, built once (the server only reads them)
_ACK_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [*_JSON_HEADERS, (b"content-length", str(len(results.ACK)).encode())],
}
_ACK_BODY = {"type": "http.response.body", "body": results.ACK}


_ALLOW_POST = ((b"allow", b"POST"),)
_CLOSE = ((b"connection", b"close"),)  # the body was not read to its end: the connection cannot go on


async def _answer(send: Send, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON_HEADERS, *headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _refuse(send: Send, code: int, message: str) -> None:
    await _answer(send, results.status_of(code), results.error_body(code, message))


def _token_refused(scope: Scope, token: bytes) -> str | None:
    """Why the request does not carry the callback token, or None when it does: a missing token and a wrong one
    read differently, so whoever set up the URL knows which to fix (compared in constant time)."""
    given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
    if not given:
        return "no ?token= given: this callback URL needs the token delivrd runs with (--callback-token)"
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token):
        return "the ?token= given is not the one configured (--callback-token)"
    return None


class Answered:
    """A request's `send`, noting the answer's status and body for /metrics: one place sees every answer."""

    __slots__ = ("body", "send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 0  # no answer (the client went away)
        self.body = b""

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif not self.body:
            self.body = message.get("body", b"")
        await self.send(message)

    def result(self) -> str:
        """The answer's `result` code as a label: 0 for the ack (the only 200), read from the body otherwise."""
        if self.status == 200:
            return "0"
        if self.status == 0:
            return "none"
        try:
            return str(msgspec.json.decode(self.body)["result"])
        except Exception:
            return "unknown"


class Deadlines:
    """The bodies being read and since when; one task cancels the reads that pass the timeout.

    A timer per request (asyncio.timeout, call_later) costs about 4 µs on uvloop, as much as
    routing a batch-1 request; noting the start in a dict costs a fraction of that.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._late: set[asyncio.Task[Any]] = set()
        self._watcher: asyncio.Task[None] | None = None

    def start(self, task: asyncio.Task[Any]) -> None:
        """`task` reads a body from now on: it is cancelled once it passes the timeout."""
        if self._watcher is None or self._watcher.done():
            self._watcher = task.get_loop().create_task(self._watch(task.get_loop()), name="delivrd-body-deadlines")
        self._reading[task] = task.get_loop().time()

    def stop(self, task: asyncio.Task[Any]) -> None:
        self._reading.pop(task, None)
        self._late.discard(task)

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether the CancelledError `task` just got came from its deadline (which is then taken back)."""
        if task not in self._late:
            return False
        self._late.discard(task)
        task.uncancel()
        return True

    async def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            await asyncio.sleep(self.timeout / 4)
            too_old = loop.time() - self.timeout
            for task, started in list(self._reading.items()):
                if started < too_old and task not in self._late:
                    self._late.add(task)
                    task.cancel()


class CallbackRoute:
    """POST handler for one callback route (`route` is CALLBACK or REPLY).

    Total: whatever the bytes, the body reaches the writer as a push (kept in the inbox) before
    anything can fail, and every answer is JSON with a `result` from `delivrd.domain.results`.
    """

    def __init__(
        self,
        route: str,
        writer: Callable[[], Writer],
        *,
        provider: Provider,
        token: str | None,
        max_body_bytes: int,
        body_timeout: float = 10.0,
    ) -> None:
        self.route = route
        self.writer = writer
        self.token = token.encode() if token else None
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.deadlines = Deadlines(body_timeout)
        self.parse = provider.parse_reports if route == CALLBACK else provider.parse_replies
        self.duration = metrics.CALLBACK_DURATION.labels(route)
        self.answers: dict[str, Any] = {}  # result → its counter, looked up once

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        answered = Answered(send)
        try:
            await self._handle(scope, receive, answered)
        except asyncio.CancelledError:  # the server gave up on this request (shutdown): say so, in JSON
            with contextlib.suppress(Exception):
                await _refuse(answered, results.SHUTTING_DOWN, "delivrd is shutting down; the push may be retried")
            raise
        except Exception:  # never a 500 page: Tencent must see a JSON failure it will retry
            log.exception("unexpected error on %s", scope["path"])
            with contextlib.suppress(Exception):  # the answer may already have started
                await _refuse(answered, results.COMMIT_FAILED, "internal error while storing; the push may be retried")
        finally:
            self._count(answered, started)

    def _count(self, answered: Answered, started: float) -> None:
        self.duration.observe(time.perf_counter() - started)
        result = answered.result()
        counter = self.answers.get(result)
        if counter is None:
            counter = self.answers[result] = metrics.CALLBACK_ANSWERS.labels(self.route, result)
        counter.inc()

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            return await _answer(
                send,
                405,
                results.error_body(results.METHOD_NOT_ALLOWED, f"{scope['path']} takes POST only"),
                _ALLOW_POST,
            )
        received_at = clock.now_micros()
        client = scope.get("client")
        peer = client[0] if client else None
        unauthorized = None if self.token is None else _token_refused(scope, self.token)
        if unauthorized is not None:
            push = Push.unauthorized(self.route, received_at, peer)
            await self._record(push)
            return await _refuse(send, results.BAD_TOKEN, unauthorized)
        body, ended = await self._read_body(scope, receive)
        if body is None:
            push = Push.too_large(self.route, received_at, peer, self._declared_length(scope))
            await self._record(push)
            message = results.too_large(self.max_body_bytes)
            return await _answer(send, 413, results.error_body(results.TOO_LARGE, message), _CLOSE)
        if ended != "complete":  # what arrived is kept, as received, but it is not the push that was sent
            push = Push.incomplete(self.route, received_at, peer, body)
            await self._record(push)
            if ended == "timeout":  # the rest of the body may still come: this connection can carry nothing more
                message = (
                    f"the body did not arrive within {self.body_timeout:g}s;"
                    f" raise the limit with {results.setting('body_timeout')}"
                )
                await _answer(send, 408, results.error_body(results.BODY_TIMEOUT, message), _CLOSE)
            return None  # a client that went away gets no answer
        push = self._parse(body, received_at, peer)
        try:
            await self.writer().submit(push)
        except WriteRefused as refused:
            return await _refuse(send, refused.code, refused.message)
        if push.result == results.OK:
            await send(_ACK_START)
            await send(_ACK_BODY)
        else:
            await _refuse(send, push.result, push.rejects[0].reason)

    @staticmethod
    def _declared_length(scope: Scope) -> int | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[bytes | None, str]:
        """The body and how it ended: `complete`, `disconnect` (the client went away) or `timeout`
        (not all of it within body_timeout). None as soon as it is known to exceed the limit (the
        rest is not read)."""
        declared = self._declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            return None, "complete"
        chunks: list[bytes] = []
        size = 0
        task = asyncio.current_task()
        assert task is not None
        self.deadlines.start(task)
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return b"".join(chunks), "disconnect"
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body_bytes:
                    return None, "complete"
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks), "complete"
        except asyncio.CancelledError:
            if self.deadlines.expired(task):
                return b"".join(chunks), "timeout"
            raise
        finally:
            self.deadlines.stop(task)

    def _parse(self, body: bytes, received_at: int, peer: str | None) -> Push:
        try:
            decoded = self.parse(body)
        except BodyError as exc:
            return Push.refused(self.route, received_at, peer, body, exc)
        except Exception as exc:  # a bug in decoding must not lose the body: keep it, refused whole
            log.exception("decoding a %s body of %d bytes failed", self.route, len(body))
            error = BodyError(results.BAD_SHAPE, f"body could not be decoded ({type(exc).__name__})")
            return Push.refused(self.route, received_at, peer, body, error)
        return Push.decoded(self.route, received_at, peer, body, decoded)

    async def _record(self, push: Push) -> None:
        """Keep a refused request in the inbox when storage has room; the refusal is answered anyway."""
        try:
            await self.writer().submit(push)
        except WriteRefused as refused:
            log.warning("could not record a refused %s request: %s", self.route, refused.message)


def routes(
    writer: Callable[[], Writer],
    *,
    provider: Provider,
    token: str | None,
    max_body_bytes: int,
    body_timeout: float = 10.0,
) -> dict[str, CallbackRoute]:
    """Path → handler for the two callback routes, decoding `provider`'s format."""
    options: dict[str, Any] = {
        "token": token,
        "max_body_bytes": max_body_bytes,
        "body_timeout": body_timeout,
        "provider": provider,
    }
    return {
        "/sms/callback": CallbackRoute(CALLBACK, writer, **options),
        "/sms/reply": CallbackRoute(REPLY, writer, **options),
    }
