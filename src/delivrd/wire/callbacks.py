"""The callback routes the provider (Tencent) calls, as plain ASGI: the hot path, with nothing in the way.

Each request body becomes one `Push` (inbox row + rows decoded by the provider + quarantined
items) that the writer commits; the ack is sent only after that commit. Whatever goes
wrong, the answer is JSON with a `result` code from `delivrd.domain.results`.

A request refused before its body is read because of who sent it (a source outside `--callback-allow`: 403, a
missing or wrong token: 401) is not a push: it is counted (`CallbackRoute.refused`) and logged, never stored, so
a flood of them costs neither disk nor memory. Every refusal is logged with its route, peer, result and reason,
at most a few lines per kind every 10 s (`delivrd.logs.Limited`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from delivrd import metrics
from delivrd.config import Networks
from delivrd.domain import clock, results
from delivrd.domain.push import CALLBACK, REPLY, Push
from delivrd.logs import Limited
from delivrd.providers.base import BodyError, Provider
from delivrd.writer.group_commit import Writer, WriteRefused

log = logging.getLogger("delivrd.wire.callbacks")
#: the answers that refuse a request for who sent it, counted by `CallbackRoute.refused` like every other
WHO_SENT_IT = (results.BAD_TOKEN, results.FORBIDDEN)
NO_NETWORKS = Networks()

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


def client_address(scope: Scope, trusted: Callable[[str], bool]) -> str | None:
    """Who sent the request: the connection's peer, or, when that is a trusted proxy, the rightmost address of
    X-Forwarded-For that is not one (a client can write anything on the left of that header, so the left is
    never believed); None when the server does not say."""
    client = scope.get("client")
    peer: str | None = client[0] if client else None
    if peer is None or not trusted(peer):
        return peer
    hops = [
        hop.strip()
        for name, value in scope["headers"]
        if name == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not trusted(hop):
            return hop
    return hops[0] if hops else peer


def _token_refused(scope: Scope, token: bytes) -> str | None:
    """Why the request does not carry the callback token, or None when it does: a missing token and a wrong one
    read differently, so whoever set up the URL knows which to fix (compared in constant time)."""
    given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
    if not given:
        return "no ?token= given: this callback URL needs the token delivrd runs with (--callback-token)"
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token):
        return "the ?token= given is not the one configured (--callback-token)"
    return None


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
        allow: Networks | None = None,
        trusted_proxies: Networks = NO_NETWORKS,
        refusals: Limited | None = None,
    ) -> None:
        self.route = route
        self.writer = writer
        self.token = token.encode() if token else None
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.deadlines = Deadlines(body_timeout)
        self.parse = provider.parse_reports if route == CALLBACK else provider.parse_replies
        self.duration = metrics.CALLBACK_DURATION.labels(route)
        self.answers: dict[int | None, Any] = {}  # result answered (None: no answer) → its counter, looked up once
        #: requests being answered now: forwarding yields while any is (delivrd.forward.sending)
        self.in_flight = 0
        # address → yes/no, remembered for the addresses seen most (reading an address costs a few µs)
        self.trusted = functools.lru_cache(maxsize=4096)(trusted_proxies.holds) if trusted_proxies else None
        self.allowed = None if allow is None else functools.lru_cache(maxsize=4096)(allow.holds)
        self.refusals = refusals or Limited(log)
        #: answers other than the ack since this process started, by `result` code (401s and 403s among them)
        self.refused: Counter[int] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        result: int | None = None  # the `result` answered, for /metrics; None while (or when) nothing is
        self.in_flight += 1
        try:
            result = await self._handle(scope, receive, send)
        except asyncio.CancelledError:  # the server gave up on this request (shutdown): say so, in JSON
            with contextlib.suppress(Exception):
                message = "delivrd is shutting down; the push may be retried"
                result = await self._refuse(send, scope, None, results.SHUTTING_DOWN, message)
            raise
        except Exception:  # never a 500 page: Tencent must see a JSON failure it will retry
            log.exception("unexpected error on %s", scope["path"])
            with contextlib.suppress(Exception):  # the answer may already have started
                message = "internal error while storing; the push may be retried"
                result = await self._refuse(send, scope, None, results.COMMIT_FAILED, message)
        finally:
            self.in_flight -= 1
            self._count(result, started)

    def _count(self, result: int | None, started: float) -> None:
        self.duration.observe(time.perf_counter() - started)
        counter = self.answers.get(result)
        if counter is None:
            label = "none" if result is None else str(result)
            counter = self.answers[result] = metrics.CALLBACK_ANSWERS.labels(self.route, label)
        counter.inc()

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> int | None:
        """Answer the request; the `result` answered, or None when the client left before an answer."""
        peer = client_address(scope, self.trusted) if self.trusted else _peer(scope)
        if scope["method"] != "POST":
            message = f"{scope['path']} takes POST only"
            return await self._refuse(send, scope, peer, results.METHOD_NOT_ALLOWED, message, _ALLOW_POST)
        if self.allowed is not None and (peer is None or not self.allowed(peer)):
            message = f"{peer} is not among the addresses allowed to call back (--callback-allow)"
            return await self._refuse(send, scope, peer, results.FORBIDDEN, message)
        if self.token is not None:
            unauthorized = _token_refused(scope, self.token)
            if unauthorized is not None:
                return await self._refuse(send, scope, peer, results.BAD_TOKEN, unauthorized)
        received_at = clock.now_micros()
        body, ended = await self._read_body(scope, receive)
        if body is None:
            push = Push.too_large(self.route, received_at, peer, self._declared_length(scope))
            await self._record(push)
            message = results.too_large(self.max_body_bytes)
            return await self._refuse(send, scope, peer, results.TOO_LARGE, message, _CLOSE)
        if ended != "complete":  # what arrived is kept, as received, but it is not the push that was sent
            push = Push.incomplete(self.route, received_at, peer, body)
            await self._record(push)
            if ended == "timeout":  # the rest of the body may still come: this connection can carry nothing more
                message = (
                    f"the body did not arrive within {self.body_timeout:g}s;"
                    f" raise the limit with {results.setting('body_timeout')}"
                )
                return await self._refuse(send, scope, peer, results.BODY_TIMEOUT, message, _CLOSE)
            self._note(scope, peer, results.BODY_TIMEOUT, "the client left before its body arrived whole", 0)
            return None  # a client that went away gets no answer
        push = self._parse(body, received_at, peer)
        try:
            await self.writer().submit(push)
        except WriteRefused as refused:
            return await self._refuse(send, scope, peer, refused.code, refused.message)
        if push.result == results.OK:
            await send(_ACK_START)
            await send(_ACK_BODY)
            return results.OK
        return await self._refuse(send, scope, peer, push.result, push.rejects[0].reason)

    async def _refuse(
        self,
        send: Send,
        scope: Scope,
        peer: str | None,
        code: int,
        message: str,
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> int:
        """Answer `code` with `message`, counted and logged; returns `code`."""
        status = results.status_of(code)
        self._note(scope, peer, code, message, status)
        await _answer(send, status, results.error_body(code, message), headers)
        return code

    def _note(self, scope: Scope, peer: str | None, code: int, reason: str, status: int) -> None:
        """Count a refusal and log it (at most a few lines of each kind every 10 s); status 0: no answer sent."""
        self.refused[code] += 1
        path = scope["path"]
        self.refusals.log(
            f"{status or 'no answer'} (result {code}) on {path}",
            logging.WARNING,
            "refused %s %s from %s: %s (result %d): %s",
            scope["method"],
            path,
            peer or "-",
            status or "no answer",
            code,
            reason,
            route=path,
            peer=peer,
            status=status or None,
            result=code,
            reason=reason,
        )

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
            self.refusals.log(
                f"not recorded on {self.route}",
                logging.WARNING,
                "could not record a refused %s request: %s",
                self.route,
                refused.message,
                route=self.route,
                peer=push.peer,
                result=refused.code,
                reason=refused.message,
            )


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def routes(
    writer: Callable[[], Writer],
    *,
    provider: Provider,
    token: str | None,
    max_body_bytes: int,
    body_timeout: float = 10.0,
    allow: Networks | None = None,
    trusted_proxies: Networks = NO_NETWORKS,
    refusals: Limited | None = None,
) -> dict[str, CallbackRoute]:
    """Path → handler for the two callback routes, decoding `provider`'s format; `refusals` logs what both refuse,
    so that a flood on either is a few lines."""
    options: dict[str, Any] = {
        "token": token,
        "max_body_bytes": max_body_bytes,
        "body_timeout": body_timeout,
        "provider": provider,
        "allow": allow,
        "trusted_proxies": trusted_proxies,
        "refusals": refusals or Limited(log),
    }
    return {
        "/sms/callback": CallbackRoute(CALLBACK, writer, **options),
        "/sms/reply": CallbackRoute(REPLY, writer, **options),
    }
