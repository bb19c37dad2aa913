"""Opening SQLite connections, through apsw rather than the standard library's sqlite3.

apsw binds parameters in C without sqlite3's adapter lookups (which cost ~0.5 µs for
every None or bytes value on Python 3.11) and bundles a current SQLite; the writer's
insert of a report costs about half as much (measured in docs/performance.md). Every
connection this process opens to the database must come from here: two copies of the
SQLite library in one process do not see each other's POSIX locks, and closing a
file in one drops the locks the other holds (sqlite.org/howtocorrupt.html, 2.2.1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import apsw

#: every SQLite failure (apsw.BusyError, apsw.CantOpenError, …) derives from this
Error = apsw.Error
Connection = apsw.Connection

#: failures of the database as a whole, not of what was being written (see store.base.StoreUnavailable)
UNAVAILABLE = (
    apsw.BusyError,
    apsw.LockedError,
    apsw.FullError,
    apsw.IOError,
    apsw.CantOpenError,
    apsw.ReadOnlyError,
    apsw.ConnectionClosedError,
    apsw.CorruptError,
    apsw.NotADBError,
    apsw.NoMemError,
    apsw.PermissionsError,
)

BUSY_TIMEOUT_MS = 5000


def connect(path: str, *, readonly: bool = False) -> apsw.Connection:
    """A connection to `path` (created if missing, unless readonly) that waits up to 5 s for a lock."""
    if readonly:
        flags = apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
        conn = apsw.Connection(f"file:{path}?mode=ro", flags=flags)
    else:
        conn = apsw.Connection(path)
    conn.set_busy_timeout(BUSY_TIMEOUT_MS)
    return conn


@contextmanager
def immediate(conn: apsw.Connection) -> Iterator[apsw.Connection]:
    """One write transaction: BEGIN IMMEDIATE (the write lock is taken at once, so two writers
    never both get halfway), COMMIT at the end of the block, ROLLBACK if anything in it fails."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if not conn.get_autocommit():  # a failed COMMIT may already have ended the transaction
            conn.execute("ROLLBACK")
        raise


def closed(what: str = "database is closed") -> apsw.Error:
    """The error raised when the store is used after close()."""
    return apsw.ConnectionClosedError(what)
