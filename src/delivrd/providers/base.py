"""What a provider gives the rest of delivrd, in terms that name no provider.

A provider turns the bodies its callbacks push into rows to store and items to quarantine (`Decoded`), or
refuses a body as a whole (`BodyError`, with the `result` code to answer), and says which failure category
a receipt code belongs to. The callback routes, the writer and the store know only these names; each
provider is a package beside this module (`tencent/`), and `Provider` is the interface it implements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class BodyError(ValueError):
    """The whole body is unusable (not JSON, or not an array/object); `code` is the `result` to answer."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class Quarantined:
    """An item that could not be understood, kept with its reason and raw text; `index` is its place in the body
    (None: the body as a whole, or a row that counts the items not listed one by one)."""

    index: int | None
    reason: str
    raw: str


@dataclass(slots=True)
class Decoded:
    """What one body gave: rows to store, the quarantine's rows, and how many items were quarantined."""

    rows: list[tuple]
    rejects: list[Quarantined]
    rejected: int


def preview(raw: bytes, limit: int | None = None) -> str:
    """Bytes as text for the quarantine: invalid UTF-8 and NUL replaced (a text column holds neither)."""
    return raw[:limit].decode("utf-8", "replace").replace("\x00", "\ufffd")


@runtime_checkable
class Provider(Protocol):
    """An SMS provider's wire format: what the callback routes call, and nothing else of the provider's.

    `parse_reports` and `parse_replies` are total over any bytes: a `Decoded`, or a `BodyError` when the body
    as a whole is not a push. Report rows are in the reports table's column order, reply rows in the replies
    table's (see `tencent.decode`).
    """

    name: str

    def parse_reports(self, body: bytes) -> Decoded:
        """A delivery-status push → what to store and quarantine."""
        ...

    def parse_replies(self, body: bytes) -> Decoded:
        """A reply (MO) push → what to store and quarantine."""
        ...

    def category(self, code: str | None) -> str:
        """The failure category (`invalid_number`, `unreachable`, …, `unknown`) of a receipt code."""
        ...
