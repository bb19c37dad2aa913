"""`delivrd endpoints add|list|show|remove|replay|enable`: where receipts are forwarded, kept in the database.

The same rules and views as `/v1/endpoints` (delivrd.forward.endpoints); the command works on the database
directly, so it needs no running server, and every serving process picks a change up within seconds."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from delivrd.cli.db import no_database
from delivrd.cli.options import add_database_options
from delivrd.forward.event import TYPES as EVENT_TYPES


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "endpoints",
        help="forward receipts: add, list, show, remove, replay or enable endpoints (webhooks, Redis, NATS)",
        description="Each event (" + ", ".join(EVENT_TYPES) + ") reaches every endpoint that wants it at least "
        "once, signed per Standard Webhooks; see docs/forwarding.md.",
    )
    commands = p.add_subparsers(title="endpoints commands", metavar="ENDPOINTS_COMMAND", required=True)
    add = commands.add_parser("add", help="add an endpoint; prints it, with its secret")
    add.add_argument(
        "url", help="http(s)://… (a webhook), redis://host:port/db?stream=NAME or nats://host:port?subject=NAME"
    )
    add.add_argument(
        "--events", metavar="TYPES", help=f"comma-separated event types (default: all: {','.join(EVENT_TYPES)})"
    )
    add.add_argument("--secret", help="the signing secret, whsec_<base64> (default: one is generated)")
    add.add_argument("--batch", action="store_true", help="send up to 100 events per request, as a JSON array")
    for name in ("report_status", "nationcode", "category", "template"):
        add.add_argument(
            "--" + name.replace("_", "-"),
            metavar="VALUES",
            help=f"only events whose {name} is one of these (comma-separated)",
        )
    listing = commands.add_parser("list", help="every endpoint: state, delivered, lag")
    show = commands.add_parser("show", help="one endpoint, with its lag and the events failed for good (JSON)")
    remove = commands.add_parser("remove", help="remove an endpoint and what waits for it")
    replay = commands.add_parser("replay", help="send again every event of a time range")
    replay.add_argument("--since", required=True, metavar="TIME", help="ISO 8601, inclusive")
    replay.add_argument("--until", metavar="TIME", help="ISO 8601, exclusive (default: now)")
    enable = commands.add_parser("enable", help="enable an endpoint disabled for failing")
    for sub in (show, remove, replay, enable):
        sub.add_argument("id", help="the endpoint's id (ep_…)")
    for sub, func in (
        (add, endpoints_add),
        (listing, endpoints_list),
        (show, endpoints_show),
        (remove, endpoints_remove),
        (replay, endpoints_replay),
        (enable, endpoints_enable),
    ):
        add_database_options(sub, creates=False)
        sub.set_defaults(func=func)


def _comma(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def _run(args: argparse.Namespace, work: Any) -> int:
    """Open the store, run `work(store)`, close it; a storage failure or a bad definition is one line, exit 2."""
    import asyncio

    from delivrd.forward.endpoints import BadEndpoint
    from delivrd.store import StoreError, open_store

    if no_database(args):
        return 2

    async def go() -> int:
        store = open_store(args.db, args.database_url)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except (StoreError, BadEndpoint, ValueError) as exc:
        print(f"delivrd: {exc}", file=sys.stderr)
        return 2


def _print(value: Any) -> None:
    import msgspec

    print(msgspec.json.format(msgspec.json.encode(value).decode(), indent=2))


def endpoints_add(args: argparse.Namespace) -> int:
    from delivrd.forward import endpoints
    from delivrd.forward.filters import Filters
    from delivrd.forward.routes import shown

    wanted = {name: _comma(getattr(args, name)) for name in ("report_status", "nationcode", "category", "template")}
    spec = endpoints.NewEndpoint(
        url=args.url,
        events=_comma(args.events) or list(EVENT_TYPES),
        secret=args.secret,
        batch=args.batch,
        filters=Filters(**wanted) if any(v is not None for v in wanted.values()) else None,
    )

    async def work(store: Any) -> int:
        _print(await shown(store, await store.add_endpoint(endpoints.new_row(spec))))
        return 0

    return _run(args, work)


def endpoints_list(args: argparse.Namespace) -> int:
    from delivrd.forward.routes import shown

    async def work(store: Any) -> int:
        rows = await store.endpoints()
        if not rows:
            print("no endpoints (add one with `delivrd endpoints add URL`)")
        for row in rows:
            v = await shown(store, row)
            print(
                f"{v.id}  {v.state:<8}  delivered {v.delivered}  waiting {v.lag.events}  retrying {v.lag.retrying}"
                f"  failed {v.lag.failed}  lag {v.lag.seconds:.0f}s  {v.url}"
                + (f"  (last error: {v.last_error})" if v.last_error else "")
            )
        return 0

    return _run(args, work)


def _missing(endpoint_id: str) -> int:
    print(f"delivrd: no endpoint {endpoint_id!r} (see `delivrd endpoints list`)", file=sys.stderr)
    return 1


def endpoints_show(args: argparse.Namespace) -> int:
    from delivrd.forward.routes import detailed

    async def work(store: Any) -> int:
        row = await store.endpoint(args.id)
        if row is None:
            return _missing(args.id)
        _print(await detailed(store, row))
        return 0

    return _run(args, work)


def endpoints_remove(args: argparse.Namespace) -> int:
    async def work(store: Any) -> int:
        if not await store.remove_endpoint(args.id):
            return _missing(args.id)
        print(f"removed {args.id}")
        return 0

    return _run(args, work)


def endpoints_replay(args: argparse.Namespace) -> int:
    from delivrd.domain import clock, iso_time

    now = clock.now_micros()
    since = iso_time.parse_time("--since", args.since)
    until = now if args.until is None else iso_time.parse_time("--until", args.until)
    if since >= until:
        print("delivrd: --since must be before --until", file=sys.stderr)
        return 2

    async def work(store: Any) -> int:
        if await store.endpoint(args.id) is None:
            return _missing(args.id)
        print(f"queued {await store.replay(args.id, since, until, now)} events again for {args.id}")
        return 0

    return _run(args, work)


def endpoints_enable(args: argparse.Namespace) -> int:
    async def work(store: Any) -> int:
        row = await store.endpoint(args.id)
        if row is None:
            return _missing(args.id)
        await store.set_endpoint_state(row.id, "active", None)
        print(f"{args.id} is active" + (" again" if row.state != "active" else ""))
        return 0

    return _run(args, work)
