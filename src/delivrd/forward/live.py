"""`GET /v1/events`: the events as Server-Sent Events, as they happen, resumable from where a client was.

Each message is `id: <position>`, `event: <type>`, `data: <the event as every sink sends it>`; a client that
reconnects with `Last-Event-ID` (EventSource does) gets every event after that position, none twice. A stream
opens with a message holding only the position it starts at, so a client that saw no event yet resumes there.

One poller per process reads the store (every `POLL` seconds, while any stream is open) and keeps the newest
messages; every stream takes its events from those, so a hundred streams cost one query a tick. A stream behind
what the poller keeps (resumed from long ago, or a client slower than the events) reads its pages itself until
it has caught up: no loss, and what a connection holds is at most a page.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import re
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from delivrd import logs
from delivrd.domain import results
from delivrd.forward import event as events
from delivrd.forward.bodies import body
from delivrd.query.http import BadParameter, Params, endpoint, error_response
from delivrd.store.base import EventRow, Store, StoreError

log = logging.getLogger("delivrd.forward.live")

#: open streams one process serves at most; one more is answered 503
MAX_STREAMS = 100
#: seconds between two reads of the store for new events
POLL = 0.25
#: seconds of silence after which a stream sends a comment, so proxies and clients see it is alive
KEEP_ALIVE = 15.0
#: events read (and sent) at once
PAGE = 500
#: messages the poller keeps for the streams (a stream further behind reads the store itself)
RECENT = 2000
#: milliseconds an EventSource waits before reconnecting
RECONNECT_MS = 1000
#: a position as text: "<xid>-<seq>", each a whole number (at most MAX_PART: PostgreSQL's bigint)
POSITION = re.compile(r"(0|[1-9][0-9]{0,18})-(0|[1-9][0-9]{0,18})")
MAX_PART = 2**63 - 1

Position = tuple[int, int]
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each message on at once
]


def position_text(position: Position) -> str:
    return f"{position[0]}-{position[1]}"


def parse_position(text: str, name: str) -> Position:
    found = POSITION.fullmatch(text)
    if found is None or max(int(found[1]), int(found[2])) > MAX_PART:
        raise BadParameter(f"{name} must be the id of an event this stream sent (<digits>-<digits>); got {text!r}")
    return int(found[1]), int(found[2])


def parse_types(text: str | None) -> frozenset[str]:
    """The `types` parameter: event types, comma-separated (default: every type)."""
    if text is None:
        return frozenset(events.TYPES)
    named = [t.strip() for t in text.split(",")]
    unknown = [t for t in named if t not in events.TYPES]
    if unknown or not named:
        raise BadParameter(f"types must list event types among {', '.join(events.TYPES)}; unknown: {unknown}")
    return frozenset(named)


@dataclass(frozen=True, slots=True)
class Message:
    """One event as a stream sends it; `text` None when the row it names is gone (skipped, position kept)."""

    position: Position
    type: str
    text: bytes | None


async def messages(store: Store, rows: Sequence[EventRow]) -> list[Message]:
    """`rows` as SSE messages, their bodies built as the sinks build them."""
    sources = await store.event_sources(rows)
    found = []
    for row in rows:
        position = (row.xid, row.seq)
        event = body(row, sources)
        text = None
        if event is not None:
            head = f"id: {position_text(position)}\nevent: {event.type}\ndata: ".encode()
            text = head + events.encode(event) + b"\n\n"
        found.append(Message(position, row.type, text))
    return found


class Stream:
    """One open stream: where it is, what it wants, and what wakes it (new events, the client gone, shutdown)."""

    def __init__(self, position: Position, types: frozenset[str]) -> None:
        self.position = position
        self.types = types
        self.wake = asyncio.Event()
        self.gone = False

    def text(self, batch: Iterable[Message]) -> bytes:
        return b"".join(m.text for m in batch if m.text is not None and m.type in self.types)


class Feed:
    """This process's streams and the poller they share."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.streams: set[Stream] = set()
        self.closed = False
        self.recent: list[Message] = []
        self.base: Position | None = None  # `recent` holds every event after it; None while no poller runs
        self.tail: Position = (0, 0)
        self._poller: asyncio.Task[None] | None = None
        self._failures = logs.Limited(log)

    def close(self) -> None:
        """End every stream (the server shuts down): each ends its response, so the drain does not wait on it."""
        self.closed = True
        for stream in self.streams:
            stream.wake.set()
        if self._poller is not None:
            self._poller.cancel()

    def since(self, position: Position) -> list[Message] | None:
        """The kept messages after `position` (at most a page), or None when it is behind what is kept."""
        if self.base is None or position < self.base:
            return None
        start = bisect.bisect_right(self.recent, position, key=lambda m: m.position)
        return self.recent[start : start + PAGE]

    def open(self, stream: Stream) -> bool:
        """Count `stream` in (False when MAX_STREAMS are open), the poller started if it is the first."""
        if len(self.streams) >= MAX_STREAMS:
            return False
        self.streams.add(stream)
        if self._poller is None:
            self._poller = asyncio.get_running_loop().create_task(self._poll(), name="delivrd-live-events")
        return True

    async def stream(self, stream: Stream) -> AsyncGenerator[bytes, None]:
        """What an opened stream sends, until the client goes or the server shuts down."""
        loop = asyncio.get_running_loop()
        yield f"retry: {RECONNECT_MS}\nid: {position_text(stream.position)}\n\n".encode()
        quiet_since = loop.time()
        while not (stream.gone or self.closed):
            batch = self.since(stream.position)
            if batch is None and self.base is not None:  # behind: read the store itself
                try:
                    batch = await messages(self.store, await self.store.events_after(*stream.position, PAGE))
                except StoreError as exc:
                    self._failures.log("read", logging.ERROR, "live events: storage failed (retrying): %s", exc)
                    batch = []
            if batch:
                stream.position = batch[-1].position
                text = stream.text(batch)
                if text:
                    yield text
                    quiet_since = loop.time()
                continue
            left = quiet_since + KEEP_ALIVE - loop.time()
            if left <= 0:
                yield b": keep-alive\n\n"
                quiet_since = loop.time()
                continue
            stream.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stream.wake.wait(), left)

    async def _poll(self) -> None:
        """Read new events while any stream is open; keep the newest RECENT, and wake the streams."""
        try:
            while self.streams and not self.closed:
                rows: list[EventRow] = []
                try:
                    if self.base is None:
                        self.base = self.tail = await self.store.events_end()
                        for stream in self.streams:  # those behind it start reading on their own
                            stream.wake.set()
                    rows = await self.store.events_after(*self.tail, PAGE)
                    if rows:
                        self.recent += await messages(self.store, rows)
                        self.tail = self.recent[-1].position
                        if len(self.recent) > 2 * RECENT:  # trimmed now and then, not on every read
                            self.base = self.recent[-RECENT - 1].position
                            del self.recent[:-RECENT]
                        for stream in self.streams:
                            stream.wake.set()
                except StoreError as exc:
                    self._failures.log("poll", logging.ERROR, "live events: storage failed (retrying): %s", exc)
                except Exception as exc:  # a bug: logged, and the streams still served (they would wait forever)
                    self._failures.log("bug", logging.ERROR, "live events: reading failed", exc_info=exc)
                if len(rows) < PAGE:
                    await asyncio.sleep(POLL)
        finally:
            self._poller = None
            self.base = None
            self.recent = []


class EventStream(Response):
    """The streaming answer: the SSE messages of one `Stream`, ended when the client disconnects."""

    def __init__(self, feed: Feed, stream: Stream) -> None:  # no Response.__init__: it would set content-length
        self.status_code = 200
        self.raw_headers = HEADERS
        self.background = None
        self.feed = feed
        self.live = stream

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        stream = self.live
        if not self.feed.open(stream):
            refused = error_response(
                results.TOO_MANY_STREAMS,
                f"this process already serves {MAX_STREAMS} live event streams; retry later",
            )
            return await refused(scope, receive, send)

        async def listen() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            stream.gone = True
            stream.wake.set()

        listener = asyncio.get_running_loop().create_task(listen())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            chunks = self.feed.stream(stream)
            try:
                async for chunk in chunks:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            finally:
                await chunks.aclose()
            if not stream.gone:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            listener.cancel()
            self.feed.streams.discard(stream)


async def live_events(request: Request, store: Store) -> Any:
    p = Params(request, "types", "last_event_id", paged=False, window=False)
    types = parse_types(p.values.get("types"))
    # the header wins: an EventSource opened with ?last_event_id= reconnects to that URL with a newer header
    header = request.headers.get("last-event-id")
    if header:
        start = parse_position(header.strip(), "Last-Event-ID")
    elif p.values.get("last_event_id"):
        start = parse_position(p.values["last_event_id"], "last_event_id")
    else:
        start = await store.events_end()
    feed: Feed = request.app.state.live
    if feed.closed:
        return error_response(results.SHUTTING_DOWN, "the process is shutting down; connect again")
    return EventStream(feed, Stream(start, types))


def routes(api_key: str | None) -> list[Route]:
    return [Route("/v1/events", endpoint(live_events, api_key), methods=["GET"])]
