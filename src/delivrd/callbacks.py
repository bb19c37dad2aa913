"""The callback routes Tencent calls, as plain ASGI: the hot path, with nothing in the way.

Each request body becomes one `Push` (inbox row + parsed rows + quarantined items)
that the writer commits; the ack is sent only after that commit. Whatever goes
wrong, the answer is JSON with a `result` code from `delivrd.results`.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

from delivrd import results, tencent
from delivrd.push import CALLBACK, REPLY, Push
from delivrd.writer import Writer, WriteRefused

log = logging.getLogger("delivrd.callbacks")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: How much of a body that is not JSON is copied into its reject (the inbox keeps all of it).
REJECT_RAW_LIMIT = 64 * 1024

_JSON_HEADERS = [(b"content-type", b"application/json")]
# the ack's two ASGI messages, built once (the server only reads them)
_ACK_START = {"type": "http.response.start", "status": 200,
              "headers": [*_JSON_HEADERS, (b"content-length", str(len(results.ACK)).encode())]}  # fmt: skip
_ACK_BODY = {"type": "http.response.body", "body": results.ACK}


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {"type": "http.response.start", "status": status,
         "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]}
    )  # fmt: skip
    await send({"type": "http.response.body", "body": body})


async def _refuse(send: Send, code: int, message: str) -> None:
    await _answer(send, results.status_of(code), results.error_body(code, message))


class CallbackRoute:
    """POST handler for one callback route (`route` is CALLBACK or REPLY)."""

    def __init__(self, route: str, writer: Callable[[], Writer], *, token: str | None, max_body_bytes: int) -> None:
        self.route = route
        self.writer = writer
        self.token = token.encode() if token else None
        self.max_body_bytes = max_body_bytes
        self.parse = tencent.parse_reports if route == CALLBACK else tencent.parse_replies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._handle(scope, receive, send)
        except Exception:  # never a 500 page: Tencent must see a JSON failure it will retry
            log.exception("unexpected error on %s", scope["path"])
            await _refuse(send, results.COMMIT_FAILED, "internal error while storing; the push may be retried")

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            return await _refuse(send, results.METHOD_NOT_ALLOWED, f"{scope['path']} takes POST only")
        received_at = time.time_ns() // 1000
        client = scope.get("client")
        peer = client[0] if client else None
        if self.token is not None and not self._token_ok(scope):
            push = Push(self.route, received_at, peer, 401, "unauthorized", 0, None)
            await self._record(push)
            return await _refuse(send, results.BAD_TOKEN, "missing or wrong ?token= for this callback URL")
        body = await self._read_body(scope, receive)
        if body is None:
            push = Push(self.route, received_at, peer, 413, "too_large", self._declared_length(scope) or 0, None)
            await self._record(push)
            return await _refuse(
                send, results.TOO_LARGE, f"body is larger than the limit of {self.max_body_bytes} bytes"
            )
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

    def _token_ok(self, scope: Scope) -> bool:
        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self.token)

    @staticmethod
    def _declared_length(scope: Scope) -> int | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it is known to exceed the limit (the rest is not read)."""
        declared = self._declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            return None
        message = await receive()
        body = message.get("body", b"")
        if not message.get("more_body", False):
            return body if len(body) <= self.max_body_bytes else None
        chunks = [body]
        size = len(body)
        while message.get("more_body", False):
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _parse(self, body: bytes, received_at: int, peer: str | None) -> Push:
        try:
            rows, rejects = self.parse(body)
        except tencent.BodyError as exc:
            raw = body[:REJECT_RAW_LIMIT].decode("utf-8", "replace").replace("\x00", "\ufffd")  # a preview; text can't hold NUL
            return Push(
                self.route, received_at, peer, results.status_of(exc.code), "rejected", len(body), body,
                rejects=[tencent.Quarantined(None, exc.message, raw)], result=exc.code,
            )  # fmt: skip
        outcome = "partial" if rows and rejects else "quarantined" if rejects else "stored"
        return Push(self.route, received_at, peer, 200, outcome, len(body), body, rows, rejects)

    async def _record(self, push: Push) -> None:
        """Keep a refused request in the inbox when storage has room; the refusal is answered anyway."""
        try:
            await self.writer().submit(push)
        except WriteRefused as refused:
            log.warning("could not record a refused %s request: %s", self.route, refused.message)


def routes(writer: Callable[[], Writer], *, token: str | None, max_body_bytes: int) -> dict[str, CallbackRoute]:
    """Path → handler for the two callback routes."""
    return {
        "/sms/callback": CallbackRoute(CALLBACK, writer, token=token, max_body_bytes=max_body_bytes),
        "/sms/reply": CallbackRoute(REPLY, writer, token=token, max_body_bytes=max_body_bytes),
    }
