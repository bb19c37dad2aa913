"""What every endpoint URL needs, whatever its kind: a port that is a number, and a host."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit


def located(url: str, kind: str, form: str) -> SplitResult:
    """`url`'s parts once its port reads and it names a host; ValueError naming `kind` ("a webhook URL") and
    its `form` otherwise."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 -- raises on a port that is not a number from 0 to 65535
    except ValueError:
        raise ValueError(f"url: the port in {parts.netloc!r} is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError(f"url: {kind} needs a host: {form}")
    return parts
