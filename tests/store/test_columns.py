"""The column specification against the schema the migrations build, on each backend."""

from __future__ import annotations

import asyncio

from delivrd.store import columns, open_store

TABLES = (columns.INBOX, columns.REPORTS, columns.REPLIES, columns.REJECTS, columns.SENDS)


def table_columns(backend, db) -> dict[str, set[str]]:
    if backend.name == "sqlite":
        from delivrd.store.sqlite.connect import connect

        conn = connect(str(db))
        try:
            return {t.name: {row[1] for row in conn.execute(f"PRAGMA table_xinfo({t.name})")} for t in TABLES}
        finally:
            conn.close()
    import asyncpg

    async def read() -> dict[str, set[str]]:
        conn = await asyncpg.connect(backend.database_url(db))
        try:
            rows = await conn.fetch(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            )
        finally:
            await conn.close()
        found: dict[str, set[str]] = {}
        for table, column in rows:
            found.setdefault(table, set()).add(column)
        return found

    return asyncio.run(read())


def test_every_column_the_spec_names_is_in_the_schema(backend, tmp_path):
    db = tmp_path / "c.db"

    async def create() -> None:
        store = open_store(str(db), backend.database_url(db))
        await store.open()
        await store.close()

    asyncio.run(create())
    schema = table_columns(backend, db)
    for table in TABLES:
        named = set(table.names) | set(table.read)
        if table in (columns.REPORTS, columns.REPLIES):
            named |= set(columns.PUSHED)
        if backend.name == "postgresql" and table is columns.REPORTS:
            named -= {"duplicates"}  # counted on report_keys there, and read through the join
        assert named <= schema[table.name], (table.name, named - schema[table.name])


def test_the_spec_parses_into_the_widths_the_writer_binds():
    assert len(columns.REPORTS.written) == 12 and len(columns.REPLIES.written) == 9
    assert columns.insert("t", ("a", "b")) == "INSERT INTO t (a, b) VALUES (?, ?)"
    assert columns.REPORTS.select("r.", duplicates="d").endswith("r.user_receive_ts, d")
