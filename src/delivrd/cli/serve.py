"""`delivrd serve`: the options of the service, checked, handed to each worker through the environment."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from typing import Any
from urllib.parse import urlsplit

from delivrd.cli.options import add_settings, given_as, retention_refusal, secret
from delivrd.config import OPTIONS, Settings, flag, variable

log = logging.getLogger("delivrd.cli.serve")
#: secrets that can also be read from a file, so that they never show in `ps`
SECRET_FILES = {
    "callback_token": "callback_token_file",
    "api_key": "api_key_file",
    "viewer_key": "viewer_key_file",
}


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


async def _check_store(settings: Settings) -> int:
    """Open and close the store once before serving, so a bad path or URL is one clear line; its schema version."""
    from delivrd.store import open_store

    store = open_store(settings.db, settings.database_url, migrate=settings.migrate)
    await store.open()
    try:
        return await store.schema_version()
    finally:
        await store.close()


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secrets_from_files(args: argparse.Namespace, values: dict[str, Any]) -> str | None:
    """Each secret given as a file read into `values` (its trailing newline dropped); why not, in one line."""
    for name, file_name in SECRET_FILES.items():
        path = values[file_name]
        if path is None:
            continue
        if values[name] is not None:
            given = flag(name) if getattr(args, name) else variable(name)
            return f"{given} and {given_as(args, file_name)} both give the {name.replace('_', ' ')}: keep one"
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            return f"cannot read {given_as(args, file_name)} {path}: {getattr(exc, 'strerror', None) or exc}"
        if not text:
            return f"{given_as(args, file_name)} {path} is empty"
        values[name], values[file_name] = text, None  # workers get the secret as the variable, not the path
    return None


def _storage(settings: Settings) -> str:
    """The storage as the startup line names it: the SQLite file, or PostgreSQL's host and database (no password)."""
    if not settings.database_url:
        return f"SQLite {os.path.abspath(settings.db)}"
    url = urlsplit(settings.database_url)
    user = f"{url.username}@" if url.username else ""
    return f"PostgreSQL {user}{url.hostname or 'localhost'}:{url.port or 5432}{url.path or '/'}"


def _refusal(args: argparse.Namespace, settings: Settings) -> str | None:
    """What in the settings cannot work together, naming each as the person gave it (flag or variable)."""
    if settings.workers > 1 and not settings.database_url:
        return (
            f"{given_as(args, 'workers')} above 1 needs PostgreSQL (--database-url): SQLite has a single"
            " writer, so one delivrd serves a SQLite file"
        )
    if not settings.api_key and not settings.open_read_api and not is_loopback(settings.host):
        return (
            f"{given_as(args, 'host')} {settings.host} is reachable from the network, and without an API key the"
            " read API and the dashboard show every phone number stored: set --api-key-file (or DELIVRD_API_KEY),"
            " or pass --open-read-api if the network is private by other means"
        )
    if settings.viewer_key and not settings.api_key:
        # without an API key the read API is open to anyone, so a key that only limits what it shows limits nothing
        return (
            f"{given_as(args, 'viewer_key')} needs --api-key (or DELIVRD_API_KEY, --api-key-file): without it the"
            " read API is open and shows everything to anyone, so a viewer key would protect nothing"
        )
    if settings.viewer_key and settings.viewer_key == settings.api_key:
        return "--viewer-key and --api-key are the same key: the viewer key must differ, or it sees everything"
    refusal = retention_refusal(args, settings.retention_days, settings.inbox_retention_days)
    if refusal is not None:
        return refusal
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

    from delivrd import logs
    from delivrd.store import StoreError
    from delivrd.wire import serving  # uvicorn is imported by `serve` only

    values: dict[str, Any] = {
        name: secret(args, name) if option.secret else getattr(args, name) for name, option in OPTIONS.items()
    }
    refusal = _secrets_from_files(args, values)
    if refusal is not None:
        print(f"delivrd: {refusal}", file=sys.stderr)
        return 2
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
    logs.configure(settings.log_level, settings.log_format)
    try:
        schema = asyncio.run(_check_store(settings))
    except StoreError as exc:  # say what is wrong in one line, no traceback
        print(f"delivrd: {exc}", file=sys.stderr)
        return 2
    _log_start(settings, schema)
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


def _log_start(settings: Settings, schema: int) -> None:
    """One line that says what this server is about to run with, secrets named by whether they are set only."""
    on = {True: "on", False: "off"}
    allow = settings.callback_allow
    log.info(
        "serving http://%s:%d (%d worker(s)): %s, schema version %d; callback token %s, API key %s, viewer key %s,"
        " callback allowlist %s, trusted proxies %s",
        settings.host,
        settings.port,
        settings.workers,
        _storage(settings),
        schema,
        on[bool(settings.callback_token)],
        on[bool(settings.api_key)] if settings.api_key or not settings.open_read_api else "off (--open-read-api)",
        on[bool(settings.viewer_key)],
        "off" if allow is None else f"on ({allow})",
        settings.trusted_proxies,
        extra={
            "address": f"{settings.host}:{settings.port}",
            "workers": settings.workers,
            "storage": _storage(settings),
            "schema_version": schema,
            "callback_token": bool(settings.callback_token),
            "api_key": bool(settings.api_key),
            "viewer_key": bool(settings.viewer_key),
            "callback_allow": None if allow is None else str(allow),
            "trusted_proxies": str(settings.trusted_proxies),
        },
    )
