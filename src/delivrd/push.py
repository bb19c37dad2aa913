"""A push: one request body as received, and what was made of it, written as one unit."""

from __future__ import annotations

from dataclasses import dataclass, field

from delivrd.tencent import Quarantined

#: Routes a push can arrive on; the same names are stored in the inbox.
CALLBACK = "callback"
REPLY = "reply"


@dataclass(slots=True)
class Push:
    route: str
    received_at: int  # microseconds since the epoch, UTC
    peer: str | None
    status: int  # the HTTP status answered once this is committed
    outcome: str  # stored | quarantined | partial | rejected | too_large | unauthorized
    size: int
    body: bytes | None
    rows: list[tuple] = field(default_factory=list)
    rejects: list[Quarantined] = field(default_factory=list)
    result: int = 0  # the `result` code answered (delivrd.results)

    @property
    def items(self) -> int:
        """How many items the body held (0 when the body itself was unusable)."""
        return len(self.rows) + sum(1 for q in self.rejects if q.index is not None)

    @property
    def weight(self) -> int:
        """What this push holds in memory while it waits, for the queue bound."""
        return self.size + 256
