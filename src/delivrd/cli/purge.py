"""`delivrd purge --phone E164`: erase one phone number everywhere it is kept, as `DELETE /v1/phones/{e164}` does,
without the HTTP layer (docs/personal-data.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from delivrd.cli.options import add_database_options, add_settings
from delivrd.option_types import counted

#: each table an erasure touches, as a person counts its rows: table → (one, many)
NOUNS = {
    "reports": ("report", "reports"),
    "report_keys": ("report key", "report keys"),
    "replies": ("reply", "replies"),
    "sends": ("send", "sends"),
    "messages": ("message", "messages"),
    "rejects": ("reject", "rejects"),
    "inbox": ("inbox body", "inbox bodies"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "purge",
        help="erase one phone number everywhere it is kept (as DELETE /v1/phones/{e164})",
        description="Removes the number's reports, replies and sends; keeps its messages (so every count stays)"
        " with the number replaced; masks its digits inside rejects and raw inbox bodies, the rest of each left"
        " byte for byte. Safe to run while delivrd serves, and to run again.",
    )
    p.add_argument("--phone", required=True, help="the number: E.164 (+8613800138000), or digits of --default-country")
    add_settings(p, "default_country")
    add_database_options(p)
    p.set_defaults(func=purge)


def purge(args: argparse.Namespace) -> int:
    import asyncio

    from delivrd.domain import phones
    from delivrd.query.erasure import Erased, erased
    from delivrd.store import StoreError, open_store

    try:
        nationcode, mobile = phones.read(args.phone, args.default_country)
    except ValueError as exc:
        print(f"delivrd: --phone {exc}", file=sys.stderr)
        return 2
    if not args.database_url and not Path(args.db).exists():
        print(f"delivrd: no database at {args.db} (give --db or DELIVRD_DB)", file=sys.stderr)
        return 2

    async def run() -> Erased:
        store = open_store(args.db, args.database_url)
        await store.open()
        try:
            return erased(f"+{nationcode}{mobile}", await store.purge_phone(nationcode, mobile))
        finally:
            await store.close()

    try:
        answer = asyncio.run(run())
    except StoreError as exc:
        print(f"delivrd: {exc}", file=sys.stderr)
        return 2

    def said(counts: dict[str, int]) -> str:
        return ", ".join(counted(n, *NOUNS.get(table, (table, table))) for table, n in counts.items())

    print(f"erased {answer.phone}: removed {said(answer.removed)}; masked {said(answer.masked)}")
    return 0
