"""The receipt code catalogue: what an `errmsg` means, its category, and what to do, in English and Chinese.

The catalogue is data (`receipts.json`, one file, easy to extend). Codes are
open-ended: a code it does not list falls to the category `unknown`, never an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import msgspec

CATEGORIES = (
    "delivered",
    "invalid_number",
    "unreachable",
    "handset_full",
    "blacklisted",
    "unsubscribed",
    "rate_limited",
    "content_rejected",
    "carrier_error",
    "expired",
    "unknown",
)


class Text(msgspec.Struct):
    en: str
    zh: str


class ReceiptCode(msgspec.Struct, kw_only=True):
    """What one code means. `match` says how it was found: code, range, prefix, or none (unknown)."""

    code: str | None
    category: str
    explanation: Text
    action: Text
    match: str


class Category(msgspec.Struct):
    key: str
    label: Text


class Pattern(msgspec.Struct, kw_only=True):
    """Codes matched by shape rather than listed one by one."""

    prefix: str | None = None
    range: list[str] | None = None
    category: str
    explanation: Text
    action: Text


class Catalogue(msgspec.Struct):
    """The whole catalogue, as GET /v1/receipt-codes returns it."""

    categories: list[Category]
    codes: list[ReceiptCode]
    patterns: list[Pattern]
    unknown: ReceiptCode


@dataclass(frozen=True, slots=True)
class _Meaning:
    category: str
    explanation: Text
    action: Text


def _meaning(entry: dict) -> _Meaning:
    if entry["category"] not in CATEGORIES:
        raise ValueError(f"receipts.json: unknown category {entry['category']!r}")
    return _Meaning(entry["category"], Text(entry["en"], entry["zh"]), Text(entry["en_action"], entry["zh_action"]))


class _Index:
    def __init__(self, data: dict) -> None:
        self.exact: dict[str, _Meaning] = {}
        self.ranges: list[tuple[str, str, _Meaning]] = []
        self.prefixes: list[tuple[str, _Meaning]] = []
        for entry in data["meanings"]:
            meaning = _meaning(entry)
            for code in entry.get("codes", []):
                if code in self.exact:
                    raise ValueError(f"receipts.json: {code!r} is listed twice")
                self.exact[code] = meaning
            self.ranges += [(low, high, meaning) for low, high in entry.get("ranges", [])]
            self.prefixes += [(prefix, meaning) for prefix in entry.get("prefixes", [])]
        self.prefixes.sort(key=lambda p: -len(p[0]))
        self.unknown = _meaning(data["unknown_code"])
        self.categories = [Category(key, Text(**label)) for key, label in data["categories"].items()]
        if [c.key for c in self.categories] != list(CATEGORIES):
            raise ValueError("receipts.json: categories differ from receipts.CATEGORIES")

    def find(self, code: str) -> tuple[_Meaning, str]:
        meaning = self.exact.get(code)
        if meaning is not None:
            return meaning, "code"
        for low, high, meaning in self.ranges:
            if len(code) == len(low) and low <= code <= high:
                return meaning, "range"
        for prefix, meaning in self.prefixes:
            if code.startswith(prefix):
                return meaning, "prefix"
        return self.unknown, "none"


@lru_cache(maxsize=1)
def _index() -> _Index:
    text = resources.files(__package__).joinpath("receipts.json").read_text(encoding="utf-8")
    return _Index(json.loads(text))


@lru_cache(maxsize=4096)
def lookup(code: str | None) -> ReceiptCode:
    """What `code` means; a code the catalogue does not know (or None) is category `unknown`."""
    meaning, match = _index().find(code) if code is not None else (_index().unknown, "none")
    return ReceiptCode(
        code=code, category=meaning.category, explanation=meaning.explanation, action=meaning.action, match=match
    )


def category(code: str | None) -> str:
    return lookup(code).category


def catalogue() -> Catalogue:
    index = _index()
    patterns = [
        Pattern(range=[low, high], category=m.category, explanation=m.explanation, action=m.action)
        for low, high, m in index.ranges
    ] + [
        Pattern(prefix=prefix, category=m.category, explanation=m.explanation, action=m.action)
        for prefix, m in index.prefixes
    ]
    return Catalogue(
        categories=index.categories,
        codes=[lookup(code) for code in index.exact],
        patterns=patterns,
        unknown=lookup(None),
    )
