"""What goes out: one event, in the shape every sink sends (`{"type", "id", "timestamp", "data"}`)."""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from delivrd.domain.event_types import (  # noqa: F401 (the names forwarding uses, from their one home)
    MESSAGE_NO_RECEIPT,
    OPTOUT_ADDED,
    OPTOUT_REMOVED,
    REPLY_RECEIVED,
    REPORT_DELIVERED,
    REPORT_FAILED,
    TYPES,
)


class Event(msgspec.Struct, frozen=True):
    """One event. `id` is stable: the same on every retry and replay, so a consumer deduplicates by it.

    `timestamp`: ISO 8601 UTC, when the event happened (the report's or reply's arrival, the send's deadline).
    `data`: the report, reply, send or opt-out change exactly as the read API returns it (reports add
    `category`).
    """

    type: str
    id: str
    timestamp: str
    data: dict[str, Any]


encode = msgspec.json.Encoder().encode


class SinkError(Exception):
    """One delivery attempt failed (a non-2xx answer, a timeout, a refused connection, a stream that refused):
    the dispatcher retries on its schedule. The message says why, for the endpoint's `last_error`."""


class Sink(Protocol):
    """Where an endpoint's events go: one attempt per `send`, all or nothing."""

    #: most events one `send` takes (1 for a webhook that is not batched)
    batch_size: int

    async def send(self, events: list[Event]) -> None:
        """Deliver `events` (at most `batch_size`) in one attempt; return only when the peer took them all,
        raise SinkError otherwise."""
        ...

    async def close(self) -> None: ...
