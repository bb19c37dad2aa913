"""The types of delivrd's settings and command options: sizes, durations, counts and fractions as people write them,
and counts written back (`counted`: 1 report, 2 reports).

Each turns text (a flag's value, a DELIVRD_* variable, a default in `config`) into a value or raises
`argparse.ArgumentTypeError` with the examples a person needs, so the command prints one clear line.
Apart from the CLI because the service reads its settings from the environment with them too.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

Number = TypeVar("Number", int, float)


def _scaled(text: str, units: dict[str, int], what: str, examples: str) -> int:
    """A whole positive amount, optionally ending in one of `units`' suffixes."""
    try:
        value = int(float(text[:-1]) * units[text[-1]]) if text and text[-1] in units else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a {what}: {text!r} (examples: {examples})") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the {what} must be positive: {text!r}")
    return value


def byte_size(text: str | int) -> int:
    """A size in bytes: 1048576, 512k, 1m, 2M (k/m/g are powers of 1024)."""
    text = str(text).strip().lower().removesuffix("b").removesuffix("i")
    return _scaled(text, {"k": 1024, "m": 1024**2, "g": 1024**3}, "size in bytes", "1048576, 512k, 1m")


def duration(text: str | int) -> int:
    """A duration in seconds: 259200, 90m, 72h, 3d."""
    return _scaled(
        str(text).strip().lower(), {"s": 1, "m": 60, "h": 3600, "d": 86400}, "duration", "259200, 90m, 72h, 3d"
    )


def time_zone(text: str) -> str:
    """An IANA time zone name (UTC, Asia/Shanghai), as given."""
    from delivrd.domain import zones

    try:
        zones.zone(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def positive(kind: type[Number]) -> Callable[[str], Number]:
    """`kind` (int or float) above zero."""

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {'whole number' if kind is int else 'number'}: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return value

    return parse


def port_number(text: str) -> int:
    """A TCP port: 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r} (1 to 65535)")
    return value


def postgres_url(text: str) -> str:
    """A PostgreSQL URL: postgresql://user@host/db (or postgres://)."""
    if not text.startswith(("postgresql://", "postgres://")):
        scheme = text.partition(":")[0]
        raise argparse.ArgumentTypeError(
            f"unsupported database URL scheme {scheme!r}: use postgresql://user@host/db, or --db for SQLite"
        )
    return text


def fraction(text: str) -> float:
    """A share from 0 to 1: 0.05."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"not a fraction from 0 to 1 (e.g. 0.05): {text!r}")
    return value


def counted(count: int, one: str, many: str | None = None) -> str:
    """A count as people write it, the noun agreeing: 1 report, 2 reports, 0 replies (`many` when not one + s)."""
    return f"{count} {one if count == 1 else many or one + 's'}"
