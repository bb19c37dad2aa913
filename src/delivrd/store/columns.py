"""One column specification per table: what a write fills, in the order of the tuples the writer builds,
and what a read returns, in the order of its row record's fields (the record is built from a row by position).

The insert statements, their placeholders, the PostgreSQL `unnest` arrays and JSON rows, the SELECT
lists and the row mappers of both backends come from here, so adding a field is one
edit here (and a migration). The rows stay plain tuples on the write path (the cheapest
thing to bind); the widths are checked when this module is imported, each statement against
the spec (and the provider's decoder checks its row tuples against the spec when it is imported).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from delivrd.domain.push import Push
from delivrd.providers.base import Quarantined
from delivrd.store.base import InboxRow, RejectRow, ReplyRow, ReportRow, Send, SendRow


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    #: the PostgreSQL type its values travel as: one array per column (`unnest($n::type[])`), or what a row's
    #: JSON element is cast to (`store.postgres.ingest`)
    type: str


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    #: what a write fills from a row tuple, in the tuple's order
    written: tuple[Column, ...]
    #: what a read returns: the record (`base.ReportRow`, …) whose fields name the columns, in order
    record: type[tuple[Any, ...]]

    @property
    def read(self) -> tuple[str, ...]:
        return self.record._fields  # type: ignore[attr-defined]

    @property
    def names(self) -> tuple[str, ...]:
        """The written columns' names."""
        return tuple(c.name for c in self.written)

    def select(self, qualify: str = "", **replaced: str) -> str:
        """The SELECT list of `read`, each column qualified (`r.`), or replaced by an expression."""
        return ", ".join(replaced.get(name, qualify + name) for name in self.read)


def _typed(spec: str) -> tuple[Column, ...]:
    """`"name type, name type"` → Columns."""
    return tuple(Column(*part.split()) for part in spec.split(","))


#: what the store adds to every report and reply row: the push it came in
PUSHED = ("inbox_id", "received_at")

INBOX = Table(
    "inbox",
    _typed(
        "received_at bigint, route text, peer text, status int, outcome text, items int, rejected int, size int,"
        " body bytea"
    ),
    InboxRow,
)
#: a report row, as `decode.report_row` builds it
REPORTS = Table(
    "reports",
    _typed(
        "sid text, dedup_key bytea, nationcode text, mobile text, report_status text, errmsg text, description text,"
        " user_receive_time text, ext text, extra text, phone text, user_receive_ts bigint"
    ),
    ReportRow,
)
#: a reply row, as `decode.reply_row` builds it
REPLIES = Table(
    "replies",
    _typed(
        "dedup_key bytea, extend text, mobile text, nationcode text, sign text, text text, time bigint, extra text,"
        " phone text"
    ),
    ReplyRow,
)
#: a quarantined item (`decode.Quarantined`), written beside its push's inbox id, time and route
REJECTS = Table(
    "rejects",
    _typed("item_index int, reason text, raw text"),
    RejectRow,
)
#: a registered send (`base.Send`); the store adds `registered_at`
SENDS = Table(
    "sends",
    _typed(
        "sid text, phone text, nationcode text, mobile text, sent_at bigint, template_id text, sign_name text,"
        " fee bigint, session_context text, code text, message text, iso_code text"
    ),
    SendRow,
)


#: a push's inbox row (its attributes carry the columns' names), and a send's row
inbox_values = attrgetter(*INBOX.names)
send_values = attrgetter(*SENDS.names)


def insert(table: str, names: tuple[str, ...]) -> str:
    """`INSERT INTO table (names) VALUES (?, …)`, one `?` per name."""
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


class Numbers:
    """Hands out asyncpg's `$n` in order, for a statement assembled from several specs."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> str:
        self.count += 1
        return f"${self.count}"

    def arrays(self, columns: tuple[Column, ...]) -> str:
        """`$a::type[], $b::type[], …`: one array parameter per column."""
        return ", ".join(f"{self.next()}::{column.type}[]" for column in columns)


# a quarantined item is bound by position, like the rows
assert len(Quarantined.__dataclass_fields__) == len(REJECTS.written)
# pages take the keyset cursor from column 0
assert all(table.read[0] == "id" for table in (INBOX, REPORTS, REPLIES, REJECTS, SENDS))
assert all(hasattr(Push, name) for name in INBOX.names) and all(hasattr(Send, name) for name in SENDS.names)
