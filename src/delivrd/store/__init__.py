"""Storage: one interface (`Store`), one module per database."""

from delivrd.store.base import ReportQuery, Store, StoreError

__all__ = ["ReportQuery", "Store", "StoreError", "open_store"]


def open_store(db: str, database_url: str | None = None, *, migrate: bool = False) -> Store:
    """The store for the configured database (SQLite file unless a URL is given)."""
    if database_url:
        raise StoreError(f"unsupported database URL {database_url!r}: only SQLite (--db) is available in this version")
    from delivrd.store.sqlite import SQLiteStore

    return SQLiteStore(db, migrate=migrate)
