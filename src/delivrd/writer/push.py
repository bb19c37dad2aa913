"""A push: one request body as received, and what was made of it, written as one unit."""

from __future__ import annotations

from dataclasses import dataclass, field

from delivrd.domain import results
from delivrd.providers.base import BodyError, Decoded, Quarantined, preview

#: Routes a push can arrive on; the same names are stored in the inbox.
CALLBACK = "callback"
REPLY = "reply"

#: How much of a body that is not JSON is copied into its reject (the inbox keeps all of it).
REJECT_RAW_LIMIT = 64 * 1024


@dataclass(slots=True)
class Push:
    route: str
    received_at: int  # microseconds since the epoch, UTC
    peer: str | None
    status: int  # the HTTP status answered once this is committed
    # stored | quarantined | partial | rejected | too_large | unauthorized | incomplete | unstorable
    outcome: str
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
        outcome = "partial" if decoded.rows and decoded.rejected else "quarantined" if decoded.rejected else "stored"
        return cls(route, received_at, peer, 200, outcome, len(body), body, decoded.rows, decoded.rejects,
                   quarantined=decoded.rejected)  # fmt: skip

    @classmethod
    def refused(cls, route: str, received_at: int, peer: str | None, body: bytes, error: BodyError) -> Push:
        """A body that is not a push at all: kept whole in the inbox, and once in the quarantine with why."""
        reject = Quarantined(None, error.message, preview(body, REJECT_RAW_LIMIT))
        return cls(route, received_at, peer, results.status_of(error.code), "rejected", len(body), body,
                   rejects=[reject], result=error.code)  # fmt: skip

    def unstorable(self, reason: str) -> Push:
        """This push as the store can surely hold it: the body alone, quarantined whole with `reason`.

        What the writer commits in place of a push the store refused, so the body is kept
        and its neighbours in the group are not failed with it.
        """
        reject = Quarantined(None, f"storage refused this push: {reason}", preview(self.body or b"", REJECT_RAW_LIMIT))
        return Push(self.route, self.received_at, self.peer, results.status_of(results.UNSTORABLE), "unstorable",
                    self.size, self.body, rejects=[reject], result=results.UNSTORABLE)  # fmt: skip
