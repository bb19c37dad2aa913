"""Storage: one interface (`Store`, in parts by who uses it), one package per database."""

from delivrd.store.base import (
    Admin,
    Committer,
    Erasure,
    Insight,
    Reader,
    ReportQuery,
    Store,
    StoreError,
    StoreUnavailable,
)

__all__ = [
    "Admin",
    "Committer",
    "Erasure",
    "Insight",
    "Reader",
    "ReportQuery",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "open_store",
]


def open_store(db: str, database_url: str | None = None, *, migrate: bool = False) -> Store:
    """The store for the configured database (SQLite file unless a URL is given)."""
    if database_url:
        if not database_url.startswith(("postgresql://", "postgres://")):
            scheme = database_url.partition(":")[0]
            raise StoreError(
                f"unsupported database URL scheme {scheme!r}: use postgresql://user@host/db, or --db for SQLite"
            )
        from delivrd.store.postgres.store import PostgresStore

        return PostgresStore(database_url, migrate=migrate)
    from delivrd.store.sqlite.store import SQLiteStore

    return SQLiteStore(db, migrate=migrate)
