"""`delivrd db status|upgrade|prune`: the schema version, migrations and retention, without the HTTP layer."""

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
        help="show, upgrade or prune the database (schema version, migrations, retention)",
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
    for sub, func in ((status, db_status), (upgrade, db_upgrade), (prune, db_prune)):
        add_database_options(sub, creates=sub is upgrade)
        sub.set_defaults(func=func)


def _missing(args: argparse.Namespace) -> bool:
    """True, said on stderr, when the SQLite file is not there: a typo must not read as an empty database."""
    if args.database_url or Path(args.db).exists():
        return False
    print(f"delivrd: no database at {args.db} (give --db or DELIVRD_DB)", file=sys.stderr)
    return True


def db_status(args: argparse.Namespace) -> int:
    import asyncio

    from delivrd.store import StoreError, migrations, open_store

    if _missing(args):
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

    if _missing(args):
        return 2
    try:
        removed = asyncio.run(run())
    except StoreError as exc:
        print(f"delivrd: {exc}", file=sys.stderr)
        return 2
    counts = ", ".join(counted(removed.get(table, 0), *nouns) for table, nouns in PRUNED_NOUNS.items())
    print(f"removed what is older than {counted(args.retention_days, 'day')} (sends by when they were sent): {counts}")
    return 0
