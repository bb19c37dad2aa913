"""Versioned schema migrations, one SQL file per step per database (`<dialect>/NNNN_name.sql`).

A new, empty database is brought to the latest version at start. An existing one
that is behind is upgraded only when asked (`delivrd db upgrade`, or `serve
--migrate`): changing a production schema is a decision, not a side effect. A
database newer than this delivrd is always refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

from delivrd.store.base import StoreError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """The file's statements, split on `;` at line ends (SQL files here keep one statement per `;\\n`)."""
        without_comments = re.sub(r"--[^\n]*", "", self.sql)
        return [s.strip() for s in re.split(r";\s*\n", without_comments) if s.strip()]


def load(dialect: str) -> list[Migration]:
    """Every migration for `dialect`, in version order."""
    found = []
    for entry in resources.files(__package__).joinpath(dialect).iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StoreError(f"migrations for {dialect} are not numbered 1..n: {[m.version for m in found]}")
    return found


def latest(dialect: str) -> int:
    return load(dialect)[-1].version


class Schema(Protocol):
    """What a backend offers the migration runner (synchronous; backends call it where they may block)."""

    dialect: str
    where: str

    def version(self) -> int: ...

    def is_empty(self) -> bool: ...

    def apply(self, migration: Migration) -> None:
        """Apply one step and record its version, atomically; skip it if another process already did."""


def prepare(schema: Schema, *, migrate: bool) -> None:
    """Bring `schema` to the latest version if it is new or `migrate` is set; refuse otherwise."""
    for migration in plan(schema.where, schema.dialect, schema.version(), empty=schema.is_empty(), migrate=migrate):
        schema.apply(migration)


def plan(where: str, dialect: str, current: int, *, empty: bool, migrate: bool) -> list[Migration]:
    """The steps `prepare` applies to a database at version `current`; StoreError when it must refuse.

    Kept apart from `prepare` so a backend whose driver is async runs the same decision.
    """
    target = latest(dialect)
    if current > target:
        raise StoreError(
            f"{where} has schema version {current}, newer than this delivrd understands ({target}); upgrade delivrd"
        )
    if current == target:
        return []
    if not migrate and not (current == 0 and empty):
        raise StoreError(
            f"{where} has schema version {current} and this delivrd needs {target};"
            " run `delivrd db upgrade` (with the same --db/--database-url) or start with --migrate"
        )
    return [m for m in load(dialect) if m.version > current]
