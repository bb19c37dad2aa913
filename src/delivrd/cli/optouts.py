"""`delivrd optouts list|add|remove|import|export`: the opt-out list from the command line, beside the API.

Each command first applies the replies no process has looked at yet (with the keyword settings it is given, as
`serve` does), so the list it shows or changes is the one `serve` would have. The CSV has a header; `import`
reads `phone` (required) and `sign`, `extend`, `note` (optional), and ignores other columns, so a file
`export` wrote imports as it is. Lines that are not right are reported with their number and skipped; the
others are imported (an opt-out kept is better than one lost), and the exit status is 1 when any line was bad.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any

from delivrd.cli.options import add_database_options, add_settings

#: the columns `export` writes, in order
COLUMNS = ("phone", "nationcode", "mobile", "source", "sign", "extend", "note", "at", "change_id")
#: changes sent to the store per transaction on import
IMPORT_CHUNK = 500


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "optouts",
        help="list, add, remove, import or export the numbers on the opt-out list",
        description="The opt-out list (docs/replies-and-unsubscribes.md): numbers that replied an unsubscribe"
        " keyword, or were put on it by hand or by import.",
    )
    commands = p.add_subparsers(title="optouts commands", metavar="OPTOUTS_COMMAND", required=True)
    listing = commands.add_parser("list", help="print the numbers on the list now, newest first")
    listing.add_argument("--phone", help="only this number")
    listing.add_argument("--source", choices=("reply", "manual", "import"), help="only entries from this source")
    listing.add_argument("--sign", help="only entries of this sign")
    add = commands.add_parser("add", help="put a number on the list by hand")
    add.add_argument("phone", help="E.164 (+8613800138000), or digits alone: a number of --default-country")
    add.add_argument("--sign", help="the sign it concerns")
    add.add_argument("--extend", help="the extend code it concerns")
    add.add_argument("--note", help="why, kept with the change")
    remove = commands.add_parser("remove", help="take a number off the list by hand")
    remove.add_argument("phone", help="E.164, or digits alone: a number of --default-country")
    remove.add_argument("--note", help="why, kept with the change")
    load = commands.add_parser(
        "import", help="put the numbers of a CSV file on the list (header: phone, and optionally sign, extend, note)"
    )
    load.add_argument("file", help="the CSV file, or - for standard input")
    export = commands.add_parser("export", help="write the list as CSV (" + ", ".join(COLUMNS) + ")")
    export.add_argument("file", nargs="?", default="-", help="the file to write (default: standard output)")
    for sub, func in ((listing, list_command), (add, add_command), (remove, remove_command), (load, import_command)):
        sub.set_defaults(func=func)
    export.set_defaults(func=export_command)
    for sub in (listing, add, remove, load, export):
        add_settings(sub, "default_country", "optout_keywords", "resubscribe_keywords")
        add_database_options(sub)


def _run(args: argparse.Namespace, command: Any) -> int:
    import asyncio
    from pathlib import Path

    from delivrd.store import StoreError

    if not args.database_url and not Path(args.db).exists():
        print(f"delivrd: no database at {args.db} (give --db or DELIVRD_DB)", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_with_store(args, command))
    except (StoreError, ValueError) as exc:
        print(f"delivrd: {exc}", file=sys.stderr)
        return 2


async def _with_store(args: argparse.Namespace, command: Any) -> int:
    from delivrd.domain.unsubscribe import Classifier
    from delivrd.store import open_store
    from delivrd.writer.optouts import ReplyOptOuts

    store = open_store(args.db, args.database_url)
    await store.open()
    try:
        await ReplyOptOuts(store, Classifier(args.optout_keywords, args.resubscribe_keywords)).catch_up()
        result: int = await command(args, store)
        return result
    finally:
        await store.close()


def _change(args: argparse.Namespace, text: str, action: str, source: str, **fields: Any) -> Any:
    """The change asked for `text`; ValueError naming the number when it is not one."""
    from delivrd.domain import clock, phones
    from delivrd.store.base import OptOutChange

    nationcode, mobile = phones.read(text, args.default_country)
    return OptOutChange(f"+{nationcode}{mobile}", nationcode, mobile, action, source, clock.now_micros(), **fields)


async def _rows(store: Any, args: argparse.Namespace) -> Any:
    """Every entry on the list (filtered as `list` is asked), newest first, a page at a time."""
    from delivrd.domain import phones
    from delivrd.store.base import OptOutQuery

    phone = getattr(args, "phone", None)
    if phone is not None:
        nationcode, mobile = phones.read(phone, args.default_country)
        phone = f"+{nationcode}{mobile}"
    before = None
    while True:
        query = OptOutQuery(
            phone=phone,
            source=getattr(args, "source", None),
            sign=getattr(args, "sign", None),
            limit=1000,
            before_id=before,
        )
        page = await store.optouts(query)
        for row in page.items:
            yield row
        if page.next_before_id is None:
            return
        before = page.next_before_id


def _iso(micros: int) -> str:
    from delivrd.query.models import iso_utc

    return iso_utc(micros)


def list_command(args: argparse.Namespace) -> int:
    async def run(args: argparse.Namespace, store: Any) -> int:
        count = 0
        async for row in _rows(store, args):
            count += 1
            scope = " ".join(f"{name}={value}" for name, value in (("sign", row.sign), ("extend", row.extend)) if value)
            note = f" {row.note!r}" if row.note else ""
            print(f"{row.phone}\t{_iso(row.at)}\t{row.source}\t{scope}{note}".rstrip())
        print(f"{count} number(s) on the opt-out list", file=sys.stderr)
        return 0

    return _run(args, run)


def add_command(args: argparse.Namespace) -> int:
    async def run(args: argparse.Namespace, store: Any) -> int:
        change = _change(args, args.phone, "added", "manual", sign=args.sign, extend=args.extend, note=args.note)
        (stored,) = await store.change_optouts([change])
        print(f"{change.phone} " + ("added to the opt-out list" if stored else "was already on the opt-out list"))
        return 0

    return _run(args, run)


def remove_command(args: argparse.Namespace) -> int:
    async def run(args: argparse.Namespace, store: Any) -> int:
        change = _change(args, args.phone, "removed", "manual", note=args.note)
        (stored,) = await store.change_optouts([change])
        if stored is None:
            print(f"delivrd: {change.phone} is not on the opt-out list", file=sys.stderr)
            return 1
        print(f"{change.phone} removed from the opt-out list")
        return 0

    return _run(args, run)


def import_command(args: argparse.Namespace) -> int:
    import csv

    name = "<stdin>" if args.file == "-" else args.file
    source: IO[str] = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8-sig", newline="")  # noqa: SIM115
    changes, bad = [], []
    try:
        reader = csv.DictReader(source)
        if reader.fieldnames is None or "phone" not in reader.fieldnames:
            print(f"delivrd: {name}: the first line must be a header naming a phone column", file=sys.stderr)
            return 2
        for row in reader:
            try:
                fields = {k: (row.get(k) or None) for k in ("sign", "extend", "note")}
                changes.append(_change(args, row.get("phone") or "", "added", "import", **fields))
            except ValueError as exc:
                bad.append(f"{name}:{reader.line_num}: phone {exc}")
    finally:
        if source is not sys.stdin:
            source.close()

    async def run(args: argparse.Namespace, store: Any) -> int:
        stored = []
        for start in range(0, len(changes), IMPORT_CHUNK):
            stored += await store.change_optouts(changes[start : start + IMPORT_CHUNK])
        added = sum(1 for s in stored if s is not None)
        for message in bad:
            print(message, file=sys.stderr)
        print(f"{added} added, {len(stored) - added} skipped (already on the list), {len(bad)} bad line(s)")
        return 1 if bad else 0

    return _run(args, run)


def export_command(args: argparse.Namespace) -> int:
    import csv

    rows: list[Any] = []

    async def run(args: argparse.Namespace, store: Any) -> int:
        rows.extend([row async for row in _rows(store, args)])
        return 0

    status = _run(args, run)
    if status:
        return status
    target: IO[str] = sys.stdout if args.file == "-" else open(args.file, "w", encoding="utf-8", newline="")  # noqa: SIM115
    try:
        writer = csv.writer(target)
        writer.writerow(COLUMNS)
        for row in rows:
            at = _iso(row.at)
            writer.writerow(
                (row.phone, row.nationcode, row.mobile, row.source, row.sign, row.extend, row.note, at, row.id)
            )
    finally:
        if target is not sys.stdout:
            target.close()
    print(f"{len(rows)} number(s) exported", file=sys.stderr)
    return 0
