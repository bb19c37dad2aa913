"""Parameter binding, the standard library's sqlite3 against apsw: `python -m bench.binding`.

The evidence behind store/sqlite/connect.py: per row, a statement binding as many
parameters as a report row has (store/columns.py) and doing nothing (binding alone), then
a report row inserted and committed in groups of 2,000 (synchronous=FULL). CPU time,
best of 5.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import apsw

from delivrd.store import columns

ROWS = 100_000
#: a report row as the SQLite writer binds it: the decoder's columns, then its push's
NAMES = columns.REPORTS.names + columns.PUSHED
WIDTH = len(NAMES)
REPORT = (
    "bench:0000000001",
    b"\x01\x02\x03\x04\x05\x06\x07\x08",
    "86",
    "13800000000",
    "SUCCESS",
    "DELIVRD",
    "用户短信接收成功",
    "2026-11-25 10:00:00",
    None,
    None,
    "+8613800000000",
    1764036000,
    5,
    1764036000000000,
)
assert len(REPORT) == WIDTH
SHAPES = {
    f"{WIDTH} str": tuple(f"s{i}" for i in range(WIDTH)),
    f"{WIDTH} int": tuple(range(WIDTH)),
    f"{WIDTH} None": (None,) * WIDTH,
    f"{WIDTH} bytes": (b"12345678",) * WIDTH,
    "report row": REPORT,
}
NOTHING = "INSERT INTO t SELECT 1 WHERE 0 AND " + " || ".join(f"?{i + 1}" for i in range(WIDTH))
TABLE = f"CREATE TABLE r (id INTEGER PRIMARY KEY, {', '.join(NAMES)})"
INSERT = columns.insert("r", NAMES)


def best(fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(5):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def connect(driver: str, path: str) -> Any:
    if driver == "sqlite3":
        return sqlite3.connect(path, isolation_level=None)
    return apsw.Connection(path)


def main() -> int:
    print(
        f"sqlite3 module: SQLite {sqlite3.sqlite_version}; apsw {apsw.apsw_version()}: SQLite {apsw.sqlite_lib_version()}"
    )
    print(f"{'':>22} {'sqlite3':>9} {'apsw':>9}   µs per row")
    with tempfile.TemporaryDirectory(prefix="delivrd-bench-binding-") as tmp:
        for shape, row in SHAPES.items():
            rows = [row] * ROWS
            cells = []
            for driver in ("sqlite3", "apsw"):
                conn = connect(driver, ":memory:")
                conn.execute("CREATE TABLE t (a)")
                cells.append(best(lambda conn=conn, rows=rows: conn.executemany(NOTHING, rows)) / ROWS * 1e6)
            print(f"{'bind ' + shape:>22} {cells[0]:9.2f} {cells[1]:9.2f}")
        cells = []
        for driver in ("sqlite3", "apsw"):
            path = str(Path(tmp) / f"{driver}.db")
            conn = connect(driver, path)
            for pragma in ("journal_mode = WAL", "synchronous = FULL", "cache_size = -65536"):
                conn.execute(f"PRAGMA {pragma}")
            conn.execute(TABLE)
            rows = [(f"bench:{n:010d}", *REPORT[1:]) for n in range(ROWS * 2)]

            def insert(conn: Any = conn, rows: list[tuple] = rows) -> None:
                for g in range(0, len(rows), 2000):
                    conn.execute("BEGIN")
                    conn.executemany(INSERT, rows[g : g + 2000])
                    conn.execute("COMMIT")

            cells.append(best(insert) / len(rows) * 1e6)
        print(f"{'insert + commit row':>22} {cells[0]:9.2f} {cells[1]:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
