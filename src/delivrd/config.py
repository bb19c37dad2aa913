"""Settings of `delivrd serve`: every option is a flag and a DELIVRD_* environment variable.

The environment is also how `serve` hands its settings to each worker process
(`--workers`): uvicorn starts workers from an import string, and each builds its
app from `Settings.from_env()`, so one process and N processes run the same code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Mapping

_INTS = frozenset(
    {"port", "max_body_bytes", "workers", "retention_days", "no_receipt_after", "max_header_bytes", "max_headers",
     "max_connections"}
)  # fmt: skip
_FLOATS = frozenset({"body_timeout", "header_timeout", "keepalive_timeout", "drain_timeout"})


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    db: str = "delivrd.db"
    database_url: str | None = None
    callback_token: str | None = None
    api_key: str | None = None
    max_body_bytes: int = 1024 * 1024
    log_level: str = "info"
    migrate: bool = False
    workers: int = 1
    retention_days: int | None = None
    no_receipt_after: int = 72 * 3600  # seconds: a send with no receipt after this is `no_receipt`
    body_timeout: float = 10.0  # seconds from a request's headers to the end of its body
    header_timeout: float = 10.0  # seconds from a connection's start, or a response's end, to the next request's headers
    keepalive_timeout: float = 5.0  # seconds an idle connection is kept after a response
    max_header_bytes: int = 64 * 1024  # the request line and headers together
    max_headers: int = 100
    max_connections: int = 1000  # per process, and never above its open-file limit less a reserve
    drain_timeout: float = 15.0  # seconds SIGTERM waits for requests under way; above body_timeout

    def to_env(self) -> dict[str, str | None]:
        """DELIVRD_* variables that `from_env` reads back to these settings (None: unset it)."""
        env: dict[str, str | None] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            env[f"DELIVRD_{f.name.upper()}"] = None if value is None else str(int(value) if f.name == "migrate" else value)
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        values: dict[str, object] = {}
        for f in fields(cls):
            text = environ.get(f"DELIVRD_{f.name.upper()}")
            if text is None or text == "":
                continue
            if f.name in _INTS:
                values[f.name] = int(text)
            elif f.name in _FLOATS:
                values[f.name] = float(text)
            elif f.name == "migrate":
                values[f.name] = text.lower() in ("1", "true", "yes")
            else:
                values[f.name] = text
        return cls(**values)  # type: ignore[arg-type]
