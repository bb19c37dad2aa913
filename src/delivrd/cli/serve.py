"""`delivrd serve`: the options of the service, checked, handed to each worker through the environment."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from delivrd.cli.arguments import byte_size, positive
from delivrd.cli.options import DEFAULTS, add_database_options, add_no_receipt_after, add_retention_option, env
from delivrd.config import Settings


def add_connection_options(p: argparse.ArgumentParser) -> None:
    """The bounds on each HTTP connection and on how many there are (see delivrd.wire.serving)."""
    p.add_argument(
        "--header-timeout",
        type=positive(float),
        default=env("header_timeout", DEFAULTS.header_timeout),
        help="seconds a connection has to send a request's headers, from its start or the end of the previous"
        " response; then it is closed [DELIVRD_HEADER_TIMEOUT]",
    )
    p.add_argument(
        "--body-timeout",
        type=positive(float),
        default=env("body_timeout", DEFAULTS.body_timeout),
        help="seconds a callback has, after its headers, to send its whole body; then it is answered 408"
        " [DELIVRD_BODY_TIMEOUT]",
    )
    p.add_argument(
        "--keepalive-timeout",
        type=positive(float),
        default=env("keepalive_timeout", DEFAULTS.keepalive_timeout),
        help="seconds an idle connection is kept open after a response (at most --header-timeout)"
        " [DELIVRD_KEEPALIVE_TIMEOUT]",
    )
    p.add_argument(
        "--max-header-bytes",
        type=byte_size,
        default=env("max_header_bytes", DEFAULTS.max_header_bytes),
        help="larger request lines and headers, together, are answered 431; accepts 64k [DELIVRD_MAX_HEADER_BYTES]",
    )
    p.add_argument(
        "--max-headers",
        type=positive(int),
        default=env("max_headers", DEFAULTS.max_headers),
        help="requests with more headers are answered 431 [DELIVRD_MAX_HEADERS]",
    )
    p.add_argument(
        "--max-connections",
        type=positive(int),
        default=env("max_connections", DEFAULTS.max_connections),
        help="open connections per process (lowered to fit the open-file limit, ulimit -n); at the cap a new"
        " connection closes the one idle longest [DELIVRD_MAX_CONNECTIONS]",
    )
    p.add_argument(
        "--drain-timeout",
        type=positive(float),
        default=env("drain_timeout", DEFAULTS.drain_timeout),
        help="seconds SIGTERM waits for the requests under way before it ends them; must exceed --body-timeout"
        " [DELIVRD_DRAIN_TIMEOUT]",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the callback receiver, the read API and the dashboard",
        description=(
            "Run delivrd: Tencent posts status reports to /sms/callback (and replies to /sms/reply); "
            "each is acked with {\"result\":0,\"errmsg\":\"OK\"} only after it is committed. "
            "The dashboard is at / and the read API under /v1/. "
            "Every option can also be set with the DELIVRD_* environment variable named beside it."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--host", default=env("host", DEFAULTS.host), help="address to listen on [DELIVRD_HOST]")
    p.add_argument("--port", type=int, default=env("port", DEFAULTS.port), help="port to listen on [DELIVRD_PORT]")
    add_database_options(p)
    p.add_argument(
        "--callback-token",
        help="require ?token=<this> on the callback URLs; use a long random secret [DELIVRD_CALLBACK_TOKEN]",
    )
    p.add_argument(
        "--api-key",
        help="require 'Authorization: Bearer <this>' on /v1/* [DELIVRD_API_KEY]",
    )
    p.add_argument(
        "--max-body-bytes",
        type=byte_size,
        default=env("max_body_bytes", DEFAULTS.max_body_bytes),
        help="larger callback bodies are answered 413 without being read; accepts 512k, 1m [DELIVRD_MAX_BODY_BYTES]",
    )
    add_no_receipt_after(p)
    p.add_argument(
        "--migrate",
        action="store_true",
        help="upgrade an older database schema at start instead of refusing to run (a new database is always"
        " created at the latest version)",
    )
    add_retention_option(p)
    p.add_argument(
        "--workers",
        type=positive(int),
        default=env("workers", DEFAULTS.workers),
        help="processes serving on the same port; more than 1 needs PostgreSQL (--database-url), since SQLite"
        " has a single writer [DELIVRD_WORKERS]",
    )
    add_connection_options(p)
    p.add_argument(
        "--log-level",
        default=env("log_level", DEFAULTS.log_level),
        choices=["critical", "error", "warning", "info", "debug"],
        help="log verbosity [DELIVRD_LOG_LEVEL]",
    )
    p.set_defaults(func=serve)


async def _check_store(settings: Settings) -> None:
    """Open and close the store once before serving, so a bad path or URL is one clear line."""
    from delivrd.store import open_store

    store = open_store(settings.db, settings.database_url, migrate=settings.migrate)
    await store.open()
    await store.close()


def serve(args: argparse.Namespace) -> int:
    import asyncio

    from delivrd.store import StoreError
    from delivrd.wire import serving  # uvicorn is imported by `serve` only

    settings = Settings(
        host=args.host,
        port=int(args.port),
        db=args.db,
        database_url=args.database_url,
        callback_token=args.callback_token or env("callback_token", None),  # secrets: never shown in --help
        api_key=args.api_key or env("api_key", None),
        max_body_bytes=byte_size(args.max_body_bytes),
        log_level=args.log_level,
        migrate=args.migrate,
        workers=int(args.workers),
        retention_days=None if args.retention_days is None else int(args.retention_days),
        no_receipt_after=args.no_receipt_after,
        header_timeout=float(args.header_timeout),
        body_timeout=float(args.body_timeout),
        keepalive_timeout=float(args.keepalive_timeout),
        max_header_bytes=byte_size(args.max_header_bytes),
        max_headers=int(args.max_headers),
        max_connections=int(args.max_connections),
        drain_timeout=float(args.drain_timeout),
    )
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.workers > 1 and not settings.database_url:
        print(
            "delivrd: --workers above 1 needs PostgreSQL (--database-url): SQLite allows one writer at a time,"
            " and one process already keeps it busy",
            file=sys.stderr,
        )
        return 2
    if settings.drain_timeout <= settings.body_timeout:
        print(
            f"delivrd: --drain-timeout ({settings.drain_timeout:g} s) must exceed --body-timeout"
            f" ({settings.body_timeout:g} s), so that a request under way at SIGTERM is answered",
            file=sys.stderr,
        )
        return 2
    try:
        asyncio.run(_check_store(settings))
    except StoreError as exc:  # say what is wrong in one line, no traceback
        print(f"delivrd: {exc}", file=sys.stderr)
        return 2
    for name, value in settings.to_env().items():  # what each worker's `create()` reads
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    serving.run(settings)
    return 0
