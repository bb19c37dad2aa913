"""Schema migrations through the command line, on both backends: refuse old, --migrate, upgrade twice."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest

from delivrd.store import migrations
from delivrd.store.postgres.store import PostgresSchema
from delivrd.store.sqlite.connect import connect
from delivrd.store.sqlite.store import SQLiteSchema
from tests.factories import batch, body

ACK = {"result": 0, "errmsg": "OK"}


def database_args(backend, db) -> list[str]:
    url = backend.database_url(db)
    return ["--db", str(db), *(["--database-url", url] if url else [])]


def delivrd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "delivrd", *args], capture_output=True, text=True, timeout=60)


def make_old_database(backend, db, version: int | None = None) -> int:
    """A database at `version` (default: one behind; at version 0, a database that holds some other table);
    returns its version."""
    dialect = "sqlite" if backend.name == "sqlite" else "postgresql"
    steps = migrations.load(dialect)[: -1 if version is None else version]
    if backend.name == "sqlite":
        conn = connect(str(db))
        schema = SQLiteSchema(conn)
        for step in steps:
            schema.apply(step)
        if not steps:
            conn.execute("CREATE TABLE not_delivrd (x)")
        conn.close()
    else:
        import asyncpg

        async def build() -> None:
            conn = await asyncpg.connect(backend.database_url(db))
            schema = PostgresSchema(conn, "test")
            for step in steps:
                await schema.apply(step)
            if not steps:
                await conn.execute("CREATE TABLE not_delivrd (x int)")
            await conn.close()

        asyncio.run(build())
    return len(steps)


def test_an_old_schema_is_refused_until_upgraded_and_upgrade_is_idempotent(backend, tmp_path):
    db = tmp_path / "old.db"
    old = make_old_database(backend, db)
    latest = migrations.latest("sqlite" if backend.name == "sqlite" else "postgresql")
    args = database_args(backend, db)

    refused = delivrd("serve", "--port", "1", *args)
    assert refused.returncode == 2
    assert f"has schema version {old} and this delivrd needs {latest}" in refused.stderr
    assert "run `delivrd db upgrade`" in refused.stderr and "Traceback" not in refused.stderr

    status = delivrd("db", "status", *args)
    assert (status.returncode, status.stdout.strip()) == (1, f"schema version {old}, latest {latest}: needs upgrade")

    first = delivrd("db", "upgrade", *args)
    assert (first.returncode, first.stdout.strip()) == (0, f"schema version {old} → {latest}")
    again = delivrd("db", "upgrade", *args)
    assert (again.returncode, again.stdout.strip()) == (0, f"schema version {latest}: up to date")
    status = delivrd("db", "status", *args)
    assert (status.returncode, status.stdout.strip()) == (0, f"schema version {latest}, latest {latest}: up to date")


def test_serve_migrate_upgrades_then_serves(backend, tmp_path, start_server):
    db = tmp_path / "old.db"
    make_old_database(backend, db)
    server = start_server("--migrate", db=db)
    with httpx.Client(base_url=server.url) as client:
        assert client.post("/sms/callback", content=body(batch(0, 3))).json() == ACK
        assert len(client.get("/v1/reports").json()["items"]) == 3


def test_db_status_on_an_unreachable_postgresql_is_one_clear_line():
    result = delivrd("db", "status", "--database-url", "postgresql://postgres@127.0.0.1:1/test")
    assert result.returncode == 2
    assert result.stderr.startswith("delivrd: cannot read PostgreSQL database test on 127.0.0.1:1: ")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [("serve",), ("db", "status"), ("db", "upgrade")])
@pytest.mark.parametrize("url", ["mysql://root@localhost/test", "sqlite:///x.db"])
def test_an_unsupported_url_is_refused_clearly(url, command):
    result = delivrd(*command, "--database-url", url)
    assert result.returncode == 2 and "unsupported database URL scheme" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_commands_on_a_sqlite_file_that_does_not_exist_yet(tmp_path):
    db = tmp_path / "new.db"
    status = delivrd("db", "status", "--db", str(db))
    assert status.returncode == 2 and status.stderr == f"delivrd: no database at {db} (give --db or DELIVRD_DB)\n"
    assert not db.exists(), "status only reads"
    latest = migrations.latest("sqlite")
    upgrade = delivrd("db", "upgrade", "--db", str(db))
    assert upgrade.returncode == 0 and upgrade.stdout.strip() == f"schema version 0 → {latest}"
    assert delivrd("db", "status", "--db", str(db)).returncode == 0
