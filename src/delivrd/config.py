"""Settings of `delivrd serve`, each declared once: name, flag, DELIVRD_* variable, how its text reads, default, help.

Each field of `Settings` carries an `Option` from which come the field's default, `from_env`/`to_env` and the
command-line options (`cli.options.add_settings`); a test checks the README's configuration table against it.
The flag is `--` and the name with dashes, the variable `DELIVRD_` and the name in capitals.

The environment is also how `serve` hands its settings to each worker process (`--workers`): uvicorn starts
workers from an import string, and each builds its app from `Settings.from_env()`, so one process and N
processes run the same code.
"""

from __future__ import annotations

import ipaddress
import os
from argparse import ArgumentTypeError
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from delivrd.domain import phones, unsubscribe
from delivrd.domain import retry_schedule as schedule
from delivrd.option_types import byte_size, duration, port_number, positive, postgres_url, time_zone

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
LOG_FORMATS = ("text", "json")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _yes(text: str) -> bool:
    return text.lower() in ("1", "true", "yes")


class Networks(tuple[Network, ...]):
    """Address ranges, written back as they are read (`10.0.0.0/8,::1/128`; `none` when empty), so that the
    environment carries them to each worker."""

    def __str__(self) -> str:
        return ",".join(str(n) for n in self) or "none"

    def holds(self, address: str) -> bool:
        """Whether `address` falls in one of the ranges (an address that does not read as one: no)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self)


def networks(text: str) -> Networks:
    """Comma-separated addresses or CIDR ranges (`203.0.113.0/24,10.1.2.3`); `none` for none."""
    if text.strip().lower() == "none":
        return Networks()
    try:
        return Networks(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ArgumentTypeError(
            f"not addresses or CIDR ranges: {text!r} ({exc}; example: 203.0.113.0/24,10.1.2.3)"
        ) from None


@dataclass(frozen=True, slots=True)
class Option:
    """How a person gives one setting."""

    parse: Callable[[str], Any]  # text (flag, variable or `default`) → value; raises ArgumentTypeError
    default: str | None  # as a person writes it, and as the README shows it; None: not set
    help: str
    secret: bool = False  # never shown by --help: taken from the variable when the flag is not given
    switch: bool = False  # a flag without a value (default off) and no variable of its own
    choices: tuple[str, ...] | None = None

    def value(self) -> Any:
        """The default as the value the setting holds."""
        return False if self.switch else None if self.default is None else self.parse(self.default)

    def read(self, text: str) -> Any:
        """`text` as the setting's value, held to its choices; raises ArgumentTypeError saying what is valid."""
        if self.choices is not None and text not in self.choices:
            raise ArgumentTypeError(f"not one of {', '.join(self.choices)}: {text!r}")
        return self.parse(text)


class SettingError(ValueError):
    """A DELIVRD_* variable whose text does not read as its setting; the message names the variable."""


def from_variable(name: str, text: str) -> Any:
    """The value of setting `name` given as its variable's `text`; SettingError names the variable."""
    try:
        return OPTIONS[name].read(text)
    except ArgumentTypeError as exc:
        raise SettingError(f"{variable(name)}: {exc}") from None


def _setting(default: str | None, parse: Callable[[str], Any], help: str, **how: Any) -> Any:
    option = Option(parse, default, help, **how)
    return field(default=option.value(), metadata={"option": option})


@dataclass(frozen=True, slots=True)
class Settings:
    """What one delivrd process runs with; the fields in the order `delivrd serve --help` lists them."""

    host: str = _setting("127.0.0.1", str, "address to listen on")
    port: int = _setting("8080", port_number, "port to listen on")
    db: str = _setting("delivrd.db", str, "SQLite database file, created if missing")
    database_url: str | None = _setting(
        None, postgres_url, "PostgreSQL URL instead of SQLite, postgresql://user@host/db"
    )
    callback_token: str | None = _setting(
        None, str, "require ?token=<this> on the callback URLs; use a long random secret", secret=True
    )
    callback_token_file: str | None = _setting(
        None, str, "read --callback-token from this file (its trailing newline dropped), so it never shows in ps"
    )
    api_key: str | None = _setting(None, str, "require 'Authorization: Bearer <this>' on /v1/*", secret=True)
    api_key_file: str | None = _setting(
        None, str, "read --api-key from this file (its trailing newline dropped), so it never shows in ps"
    )
    viewer_key: str | None = _setting(
        None,
        str,
        "a second, read-only key: with it the read API and the dashboard show phone numbers masked, no raw bodies,"
        " and refuse every write (needs --api-key)",
        secret=True,
    )
    viewer_key_file: str | None = _setting(
        None, str, "read --viewer-key from this file (its trailing newline dropped), so it never shows in ps"
    )
    open_read_api: bool = _setting(
        None,
        _yes,
        "serve on an address other than loopback without --api-key, for a network private by other means"
        " (without it, that is refused: the read API and the dashboard show every phone number stored)",
        switch=True,
    )
    callback_allow: Networks | None = _setting(  # noqa: RUF009 (Networks is a tuple: immutable)
        None,
        networks,
        "answer the callback routes only to these addresses or CIDR ranges (others get 403), e.g. Tencent's"
        " source ranges; behind a proxy see --trusted-proxies",
    )
    trusted_proxies: Networks = _setting(  # noqa: RUF009 (Networks is a tuple: immutable)
        "127.0.0.1,::1",
        networks,
        "addresses of reverse proxies whose X-Forwarded-For is believed: the client is its rightmost address"
        " that is not one of these; none to believe no proxy",
    )
    max_body_bytes: int = _setting(
        "1m", byte_size, "larger callback bodies are answered 413 without being read; accepts 512k, 1m"
    )
    no_receipt_after: int = _setting(
        "72h",
        duration,
        "a send with no receipt this long after it was sent counts as no_receipt rather than"
        " pending; accepts 90m, 72h, 3d",
    )
    retry_schedule: schedule.Schedule = _setting(  # noqa: RUF009 (Schedule is a tuple: immutable)
        schedule.DEFAULT,
        schedule.schedule,
        "waits between attempts to send an event to an endpoint that failed it, each give or take a fifth;"
        " after the last the event is failed for good (kept, and sent again by a replay)",
    )
    timezone: str = _setting(
        "UTC",
        time_zone,
        "the zone whose midnights start the statistics' days (by=day, the dashboard) when a request names none"
        " (tz=); an IANA name: UTC, Asia/Shanghai",
    )
    default_country: str = _setting(
        "86",
        phones.calling_code,
        "country calling code of a phone number searched without +: 13800138000 is read as +86 13800138000",
    )
    optout_keywords: unsubscribe.Keywords = _setting(  # noqa: RUF009 (Keywords is a tuple: immutable)
        unsubscribe.DEFAULT_OPTOUT_KEYWORDS,
        unsubscribe.keywords,
        "a reply whose whole text is one of these (comma-separated; trimmed, case folded, full-width letters"
        " read as plain ones) puts its number on the opt-out list",
    )
    resubscribe_keywords: unsubscribe.Keywords = _setting(  # noqa: RUF009 (Keywords is a tuple: immutable)
        unsubscribe.DEFAULT_RESUBSCRIBE_KEYWORDS,
        unsubscribe.keywords,
        "a reply whose whole text is one of these (compared as --optout-keywords) takes its number off the list",
    )
    migrate: bool = _setting(
        None,
        _yes,
        "upgrade an older database schema at start instead of refusing to run (a new database is"
        " always created at the latest version)",
        switch=True,
    )
    retention_days: int | None = _setting(
        None,
        positive(int),
        "remove reports, replies, rejects, inbox bodies (and sends, by sent_at) older than this"
        " many days (SQLite: rows, in small batches; PostgreSQL: whole day partitions)",
    )
    inbox_retention_days: int | None = _setting(
        None,
        positive(int),
        "drop the raw bodies of inbox rows older than this many days (the rows stay): a shorter life for the"
        " copies that hold every number as received; at most --retention-days",
    )
    workers: int = _setting(
        "1",
        positive(int),
        "processes serving on the same port; more than 1 needs PostgreSQL (--database-url),"
        " since SQLite has a single writer",
    )
    header_timeout: float = _setting(
        "10",
        positive(float),
        "seconds a connection has to send a request's headers, from its start or the end of"
        " the previous response; then it is closed",
    )
    body_timeout: float = _setting(
        "10",
        positive(float),
        "seconds a callback has, after its headers, to send its whole body; then it is answered 408",
    )
    keepalive_timeout: float = _setting(
        "5", positive(float), "seconds an idle connection is kept open after a response (at most --header-timeout)"
    )
    max_header_bytes: int = _setting(
        "64k", byte_size, "larger request lines and headers, together, are answered 431; accepts 64k"
    )
    max_headers: int = _setting("100", positive(int), "requests with more headers are answered 431")
    max_connections: int = _setting(
        "1000",
        positive(int),
        "open connections per process (lowered to fit the open-file limit, ulimit -n); at"
        " the cap a new connection closes the one idle longest",
    )
    drain_timeout: float = _setting(
        "15",
        positive(float),
        "seconds SIGTERM waits for the requests under way before it ends them; must exceed --body-timeout",
    )
    log_level: str = _setting("info", str, "log verbosity", choices=LOG_LEVELS)
    log_format: str = _setting(
        "text", str, "text: one readable line per event; json: one JSON object per line", choices=LOG_FORMATS
    )

    def to_env(self) -> dict[str, str | None]:
        """DELIVRD_* variables that `from_env` reads back to these settings (None: unset it)."""
        env: dict[str, str | None] = {}
        for name in OPTIONS:
            value = getattr(self, name)
            env[variable(name)] = None if value is None else str(int(value) if type(value) is bool else value)
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        values: dict[str, object] = {}
        for name in OPTIONS:
            text = environ.get(variable(name))
            if text:
                values[name] = from_variable(name, text)
        return cls(**values)  # type: ignore[arg-type]


#: every setting's Option, by name, in declaration order
OPTIONS: dict[str, Option] = {f.name: f.metadata["option"] for f in fields(Settings)}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def variable(name: str) -> str:
    """The DELIVRD_* variable of a setting (a switch's carries it to worker processes only)."""
    return f"DELIVRD_{name.upper()}"
