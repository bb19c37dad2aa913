"""`delivrd serve`: the options of the service, checked, handed to each worker through the environment."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from delivrd.cli.options import add_settings, given_as, secret
from delivrd.config import OPTIONS, Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the callback receiver, the read API and the dashboard",
        description=(
            "Run delivrd: Tencent posts status reports to /sms/callback (and replies to /sms/reply); "
            'each is acked with {"result":0,"errmsg":"OK"} only after it is committed. '
            "The dashboard is at / and the read API under /v1/. "
            "Every option can also be set with the DELIVRD_* environment variable named beside it."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_settings(p, *OPTIONS)
    p.set_defaults(func=serve)


async def _check_store(settings: Settings) -> None:
    """Open and close the store once before serving, so a bad path or URL is one clear line."""
    from delivrd.store import open_store

    store = open_store(settings.db, settings.database_url, migrate=settings.migrate)
    await store.open()
    await store.close()


def _refusal(args: argparse.Namespace, settings: Settings) -> str | None:
    """What in the settings cannot work together, naming each as the person gave it (flag or variable)."""
    if settings.workers > 1 and not settings.database_url:
        return (
            f"{given_as(args, 'workers')} above 1 needs PostgreSQL (--database-url): SQLite has a single"
            " writer, so one delivrd serves a SQLite file"
        )
    if settings.drain_timeout <= settings.body_timeout:
        return (
            f"{given_as(args, 'drain_timeout')} ({settings.drain_timeout:g} s) must exceed"
            f" {given_as(args, 'body_timeout')} ({settings.body_timeout:g} s), so that a request under way at"
            " SIGTERM is answered"
        )
    return None


def _hold_sqlite(db: str) -> str | None:
    """Take the SQLite file's serving lock for the life of this process; why not, if another server holds it."""
    from delivrd.store.sqlite import serving_lock

    try:
        serving_lock.hold(db)
    except serving_lock.AlreadyServed as exc:
        return str(exc)
    except OSError:
        pass  # no lock file where the database would be: opening the store says why, in SQLite's words
    return None


def serve(args: argparse.Namespace) -> int:
    """Check what can be checked before creating anything (settings, address, the SQLite file's lock), then serve."""
    import asyncio

    from delivrd.store import StoreError
    from delivrd.wire import serving  # uvicorn is imported by `serve` only

    values: dict[str, Any] = {
        name: secret(args, name) if option.secret else getattr(args, name) for name, option in OPTIONS.items()
    }
    settings = Settings(**values)
    refusal = _refusal(args, settings)
    if refusal is None:
        problem = serving.address_problem(settings.host, settings.port)
        if problem is not None:
            what, setting = problem
            refusal = f"{what}: pick another {setting} with {given_as(args, setting)}"
    if refusal is None and not settings.database_url:
        refusal = _hold_sqlite(settings.db)
    if refusal is not None:
        print(f"delivrd: {refusal}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
    _metrics_directory()
    serving.run(settings)
    return 0


def _metrics_directory() -> None:
    """A fresh directory for the workers' Prometheus figures (delivrd.metrics), named in the environment they
    inherit and removed at exit: figures of an earlier run, or of another server, never count in this one's."""
    import atexit
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="delivrd-metrics-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
