"""Settings of `delivrd serve`: every option is a flag and a DELIVRD_* environment variable."""

from __future__ import annotations

from dataclasses import dataclass


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
    no_receipt_after: int = 72 * 3600  # seconds: a send with no receipt after this is `no_receipt`
