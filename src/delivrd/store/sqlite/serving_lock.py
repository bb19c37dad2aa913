"""One `delivrd serve` per SQLite file: a lock held beside the database for as long as a server runs on it.

SQLite takes one writer at a time; a second server on the same file would start, then fight the first for the
write lock and answer callbacks 503 under load. `flock` on `<database>.lock` (not on the database file itself:
closing any descriptor of that file drops the POSIX locks SQLite holds on it) is released by the kernel when its
process ends however it ends, `kill -9` included, so a lock is never left stale. Only servers take it: the
commands that read or prune beside a running server (`stats`, `export`, `db status`…) do not.
"""

from __future__ import annotations

import fcntl
import os


class AlreadyServed(Exception):
    """Another process serves this database; the message says which and what to do instead."""


def lock_path(database: str) -> str:
    return database + ".lock"


def hold(database: str) -> int:
    """Take the serving lock of `database` for the life of this process; returns its descriptor (kept open).

    AlreadyServed when another process holds it; OSError when the lock file cannot be made (the directory is
    missing or read-only: SQLite could not open the database there either).
    """
    fd = os.open(lock_path(database), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        by = f"process {holder}" if holder.isdigit() else "another process"
        raise AlreadyServed(
            f"{database} is already served by {by}: SQLite has a single writer, so one delivrd serves a SQLite"
            " file; several processes need PostgreSQL (--database-url)"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
