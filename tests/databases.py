"""The two stores a test can run on: a SQLite file, or a fresh schema on the test PostgreSQL server."""

from __future__ import annotations

import asyncio
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

BACKENDS = ("sqlite", "postgresql")
POSTGRES_URL = os.environ.get("DELIVRD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres(sql: str, *args: object) -> list:
    """Run one statement on the test PostgreSQL server (outside any test schema)."""
    import asyncpg

    async def run() -> list:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run())
    with ThreadPoolExecutor(1) as thread:  # called from async test code: a loop of its own
        return thread.submit(asyncio.run, run()).result()


_reachable: list[str | None] = []


def require_postgres() -> None:
    """Skip (fail under CI=true) when the test PostgreSQL server does not answer."""
    if not _reachable:
        try:
            postgres("SELECT 1")
            _reachable.append(None)
        except Exception as exc:  # any reason it cannot be used is a reason to skip
            _reachable.append(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    if _reachable[0] is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(_reachable[0] + " (CI=true: the PostgreSQL tests must run)")
        pytest.skip(_reachable[0])


class Backend:
    """Where a test's databases live: a SQLite file each, or a PostgreSQL schema each (dropped at teardown)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.schemas: dict[Path, str] = {}

    def database_url(self, db: Path) -> str | None:
        """None on SQLite (the file `db` is the database); on PostgreSQL the URL of `db`'s own schema."""
        if self.name == "sqlite":
            return None
        if db not in self.schemas:
            schema = f"delivrd_test_{uuid.uuid4().hex[:12]}"
            postgres(f"CREATE SCHEMA {schema}")
            self.schemas[db] = schema
        schema = self.schemas[db]
        return f"{POSTGRES_URL}?search_path={schema}&application_name={schema}"

    def drop(self) -> None:
        for schema in self.schemas.values():
            postgres(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        self.schemas.clear()
