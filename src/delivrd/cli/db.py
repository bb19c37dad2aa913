"""`delivrd db status|upgrade|prune|backup`: the schema version, migrations, retention and a copy taken while serving,
without the HTTP layer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from delivrd.cli.options import add_database_options, add_settings
from delivrd.option_types import counted

#: what `prune` removes, as a person counts it: table → (one, many)
PRUNED_NOUNS = {
    "reports": ("report", "reports"),
    "replies": ("reply", "replies"),
    "rejects": ("reject", "rejects"),
    "inbox": ("inbox body", "inbox bodies"),
    "sends": ("send", "sends"),
    "messages": ("message", "messages"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "db",
        help="show, upgrade, prune or back up the database (schema version, migrations, retention, a copy)",
        description="Schema migrations are versioned; `delivrd serve` refuses an older schema unless --migrate.",
    )
    commands = p.add_subparsers(title="db commands", metavar="DB_COMMAND", required=True)
    status = commands.add_parser("status", help="print the schema version of the database and the latest one")
    upgrade = commands.add_parser(
        "upgrade", help="apply every pending migration (safe to run again); creates a new database"
    )
    prune = commands.add_parser(
        "prune", help="apply retention once: remove what is older than --retention-days (serve does it hourly)"
    )
    add_settings(prune, "retention_days", required=True)
    backup = commands.add_parser(
        "backup",
        help="copy the SQLite database to a file, consistent, while delivrd serves (PostgreSQL: use pg_dump)",
        description="The copy holds every report acked before it began. It is written beside --to and renamed "
        "into place, so --to is never half-written; an existing --to is replaced.",
    )
    backup.add_argument("--to", required=True, metavar="FILE", help="the backup file to write")
    for sub, func in ((status, db_status), (upgrade, db_upgrade), (prune, db_prune), (backup, db_backup)):
        add_database_options(sub, creates=sub is upgrade)
        sub.set_defaults(func=func)


def no_database(args: argparse.Namespace) -> bool:
    """True, said on stderr, when the SQLite file is not there: a typo must not read as an empty database."""
    if args.database_url or Path(args.db).exists():
        return False
    print(f"delivrd: no database at {args.db} (give --db or DELIVRD_DB)", file=sys.stderr)
    return True


def db_status(args: argparse.Namespace) -> int:
    import asyncio

    from delivrd.store import StoreError, migrations, open_store

    if no_database(args):
        return 2
    try:
        store = open_store(args.db, args.database_url)
        current = asyncio.run(store.schema_version())
    except StoreError as exc:
        print(f"delivrd: {exc}", file=sys.stderr)
        return 2
    target = migrations.latest(store.dialect)
    if current == 0:
        print(f"schema version 0, latest {target}: no delivrd schema yet (`delivrd db upgrade` creates it)")
        return 1
    state = "up to date" if current == target else "newer than this delivrd" if current > target else "needs upgrade"
    print(f"schema version {current}, latest {target}: {state}")
    return 0 if current == target else 1


def db_upgrade(args: argparse.Namespace) -> int:
    import asyncio

    from delivrd.store import StoreError, open_store

    async def run() -> tuple[int, int]:
        store = open_store(args.db, args.database_url, migrate=True)
        before = await store.schema_version()
        await store.open()
        after = await store.schema_version()
        await store.close()
        return before, after

    try:
        before, after = asyncio.run(run())
    except StoreError as exc:
        print(f"delivrd: {exc}", file=sys.stderr)
        return 2
    print(f"schema version {before} → {after}" if after != before else f"schema version {after}: up to date")
    return 0


def db_prune(args: argparse.Namespace) -> int:
    import asyncio

    from delivrd.domain.retention import retention_cutoff
    from delivrd.store import StoreError, open_store

    async def run() -> dict[str, int]:
        store = open_store(args.db, args.database_url)
        await store.open()
        try:
            return await store.prune(retention_cutoff(args.retention_days))
        finally:
            await store.close()

    if no_database(args):
        return 2
    try:
        removed = asyncio.run(run())
    except StoreError as exc:
        print(f"delivrd: {exc}", file=sys.stderr)
        return 2
    counts = ", ".join(counted(removed.get(table, 0), *nouns) for table, nouns in PRUNED_NOUNS.items())
    print(f"removed what is older than {counted(args.retention_days, 'day')} (sends by when they were sent): {counts}")
    return 0


def db_backup(args: argparse.Namespace) -> int:
    """SQLite's online backup API in one step: one read transaction, so the copy is a snapshot, and in WAL mode
    the writer goes on committing (and acking) while it is taken."""
    import os

    from delivrd.store.sqlite.connect import Error, connect

    if args.database_url:
        print("delivrd: db backup copies a SQLite file; back up PostgreSQL with pg_dump", file=sys.stderr)
        return 2
    if no_database(args):
        return 2
    target = Path(args.to)
    if target.exists() and target.resolve() == Path(args.db).resolve():
        print(f"delivrd: --to {args.to} is the database itself", file=sys.stderr)
        return 2
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        source = connect(args.db)  # read only by use: a read-only connection would leave -wal and -shm behind
        try:
            copy = connect(str(partial))
            try:
                with copy.backup("main", source, "main") as backup:
                    backup.step(-1)
            finally:
                copy.close()
        finally:
            source.close()
        with open(partial, "rb") as written:  # on disk before it takes the name: a crash leaves the old backup
            os.fsync(written.fileno())
        os.replace(partial, target)
    except Error as exc:
        partial.unlink(missing_ok=True)
        print(f"delivrd: backup of {args.db} to {target} failed: {exc}", file=sys.stderr)
        return 2
    print(f"backed up {args.db} to {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0
