"""A push: one request body as received, and what was made of it, written as one unit.

Its `outcome` is decided here and only here (the constructors below); the inbox stores it, `GET /v1/inbox`
filters on it, and the OpenAPI document lists `OUTCOMES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from delivrd.domain import results
from delivrd.providers.base import BodyError, Decoded, Quarantined, preview

#: Routes a push can arrive on; the same names are stored in the inbox and rejects, and filter them.
CALLBACK = "callback"
REPLY = "reply"
ROUTES = (CALLBACK, REPLY)

STORED = "stored"
PARTIAL = "partial"
QUARANTINED = "quarantined"
REJECTED = "rejected"
TOO_LARGE = "too_large"
UNAUTHORIZED = "unauthorized"
INCOMPLETE = "incomplete"
UNSTORABLE = "unstorable"
#: every outcome a push can have → what it means
OUTCOMES = {
    STORED: "every item stored",
    PARTIAL: "some items stored, the others quarantined",
    QUARANTINED: "every item quarantined",
    REJECTED: "the body as a whole is not a push: kept, and quarantined whole",
    TOO_LARGE: "the body is larger than --max-body-bytes: not read",
    UNAUTHORIZED: "?token= was missing or wrong (written by earlier versions only: such requests are now counted and"
    " logged, not stored)",
    INCOMPLETE: "the body did not arrive whole (the client left, or --body-timeout passed): what arrived is kept,"
    " none of it read as items",
    UNSTORABLE: "the store refused the push as decoded: its body kept and quarantined whole",
}

#: How much of a body that is not JSON is copied into its reject (the inbox keeps all of it).
REJECT_RAW_LIMIT = 64 * 1024


@dataclass(slots=True)
class Push:
    route: str
    received_at: int  # microseconds since the epoch, UTC
    peer: str | None
    status: int  # the HTTP status answered once this is committed
    outcome: str  # one of OUTCOMES
    size: int
    body: bytes | None
    rows: list[tuple] = field(default_factory=list)
    rejects: list[Quarantined] = field(default_factory=list)
    result: int = 0  # the `result` code answered (delivrd.results)
    #: items quarantined, when more than `rejects` lists (a provider lists a bounded number); None: as many as listed
    quarantined: int | None = None

    @property
    def rejected(self) -> int:
        """How many items (or whole bodies) were quarantined."""
        return len(self.rejects) if self.quarantined is None else self.quarantined

    @property
    def items(self) -> int:
        """How many items the body held (0 when the body itself was unusable)."""
        if self.quarantined is not None:
            return len(self.rows) + self.quarantined
        return len(self.rows) + sum(1 for q in self.rejects if q.index is not None)

    @property
    def weight(self) -> int:
        """What this push holds in memory while it waits, for the queue bound."""
        return self.size + 256

    @classmethod
    def decoded(cls, route: str, received_at: int, peer: str | None, body: bytes, decoded: Decoded) -> Push:
        """A body that decoded: its rows and quarantined items, and the outcome that says which it held."""
        outcome = PARTIAL if decoded.rows and decoded.rejected else QUARANTINED if decoded.rejected else STORED
        return cls(
            route,
            received_at,
            peer,
            200,
            outcome,
            len(body),
            body,
            decoded.rows,
            decoded.rejects,
            quarantined=decoded.rejected,
        )

    @classmethod
    def refused(cls, route: str, received_at: int, peer: str | None, body: bytes, error: BodyError) -> Push:
        """A body that is not a push at all: kept whole in the inbox, and once in the quarantine with why."""
        reject = Quarantined(None, error.message, preview(body, REJECT_RAW_LIMIT))
        return cls(
            route,
            received_at,
            peer,
            results.status_of(error.code),
            REJECTED,
            len(body),
            body,
            rejects=[reject],
            result=error.code,
        )

    @classmethod
    def too_large(cls, route: str, received_at: int, peer: str | None, declared: int | None) -> Push:
        """A body over the limit: recorded with the size it declared, not read."""
        return cls(route, received_at, peer, results.status_of(results.TOO_LARGE), TOO_LARGE, declared or 0, None)

    @classmethod
    def incomplete(cls, route: str, received_at: int, peer: str | None, body: bytes) -> Push:
        """A body that did not arrive whole: what arrived is kept as received, none of it read as items."""
        return cls(route, received_at, peer, results.status_of(results.BODY_TIMEOUT), INCOMPLETE, len(body), body)

    def unstorable(self, reason: str) -> Push:
        """This push as the store can surely hold it: the body alone, quarantined whole with `reason`.

        What the writer commits in place of a push the store refused, so the body is kept
        and its neighbours in the group are not failed with it.
        """
        reject = Quarantined(None, f"storage refused this push: {reason}", preview(self.body or b"", REJECT_RAW_LIMIT))
        return Push(
            self.route,
            self.received_at,
            self.peer,
            results.status_of(results.UNSTORABLE),
            UNSTORABLE,
            self.size,
            self.body,
            rejects=[reject],
            result=results.UNSTORABLE,
        )
