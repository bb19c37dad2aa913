"""What keeping the rollups costs the write path, kept in the commit or behind it (an experiment).

    .venv/bin/python bench/rollup_modes.py            # every mode, receipts with and without sends first
    .venv/bin/python bench/rollup_modes.py --rounds 3

Modes, each on a fresh SQLite database of this checkout's schema, altered before writing:
- `in-commit`: as shipped (migration 0004): triggers on `messages` upsert each changed message's cells.
- `log`: the triggers only append the message's old and new values to a change log; a fold behind the
  commits (here: after every 10 groups, timed and added) sums the log into the rollups per cell and empties
  it. Queries would read the rollups plus the unfolded tail (a watermark).
- `none`: no rollups at all (the floor).
- `none+messages_stats`: no rollups, the eight-column index of migration 0003 back (what the statistics
  needed before rollups).
Printed: CPU µs per report (the process, its writer thread included: waits for fsync and for a busy
machine do not count) through `store.write` (400 pushes × 100 reports, groups of 16, durable), best of
`--rounds`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench import stats
from delivrd.domain.clock import HOUR_US
from delivrd.domain.latency import bucket_sql
from delivrd.domain.push import Push
from delivrd.store.base import Send
from delivrd.store.sqlite.connect import connect
from delivrd.store.sqlite.store import SQLiteStore

T0 = 1_790_000_000_000_000
PUSHES, PER_PUSH, GROUP = 400, 100, 16
FOLD_EVERY = 10  # groups

_COLUMNS = "at, nationcode, template_id, sign_name, state, code, latency_s"
LOG = f"""
DROP TRIGGER messages_rollup_insert;
DROP TRIGGER messages_rollup_update;
DROP TRIGGER messages_rollup_delete;
CREATE TABLE rollup_log (id INTEGER PRIMARY KEY, {_COLUMNS}, sign INTEGER);
CREATE TRIGGER log_insert AFTER INSERT ON messages BEGIN
INSERT INTO rollup_log ({_COLUMNS}, sign) VALUES ({", ".join("new." + c.strip() for c in _COLUMNS.split(","))}, 1); END;
CREATE TRIGGER log_update AFTER UPDATE ON messages
WHEN {" OR ".join(f"old.{c.strip()} IS NOT new.{c.strip()}" for c in _COLUMNS.split(","))} BEGIN
INSERT INTO rollup_log ({_COLUMNS}, sign) VALUES ({", ".join("old." + c.strip() for c in _COLUMNS.split(","))}, -1),
({", ".join("new." + c.strip() for c in _COLUMNS.split(","))}, 1); END;
"""
NONE = """
DROP TRIGGER messages_rollup_insert;
DROP TRIGGER messages_rollup_update;
DROP TRIGGER messages_rollup_delete;
"""


def _split_triggers() -> str:
    """The shipped triggers' cells, one INSERT per grain (no VALUES join, each expression once per statement)."""
    hour = "CASE WHEN {r}.at >= 0 THEN {r}.at / 3600000000 ELSE ({r}.at + 1) / 3600000000 - 1 END"
    minute = "CASE WHEN {r}.at >= 0 THEN {r}.at / 60000000 ELSE ({r}.at + 1) / 60000000 - 1 END"
    values = {
        0: "''",
        1: "coalesce({r}.nationcode, char(1))",
        2: "coalesce({r}.template_id, char(1))",
        3: "coalesce({r}.sign_name, char(1))",
        4: "''",
    }

    def inserts(r: str, sign: int) -> str:
        return "; ".join(
            f"INSERT INTO rollups (grain, slot, value, outcome, code, latency, n) VALUES ({g},"
            f" {(minute if g == 4 else hour).format(r=r)}, {values[g].format(r=r)}, coalesce({r}.state, ''),"
            f" coalesce({r}.code, char(1)), coalesce({bucket_sql(r + '.latency_s')}, 9223372036854775807), {sign})"
            " ON CONFLICT DO UPDATE SET n = n + excluded.n"
            for g in range(5)
        )

    changed = " OR ".join(f"old.{c.strip()} IS NOT new.{c.strip()}" for c in _COLUMNS.split(","))
    return f"""{NONE}
CREATE TRIGGER split_insert AFTER INSERT ON messages BEGIN {inserts("new", 1)}; END;
CREATE TRIGGER split_update AFTER UPDATE ON messages WHEN {changed} BEGIN {inserts("old", -1)}; {inserts("new", 1)}; END;
"""


STATS_INDEX = (
    "CREATE INDEX messages_stats ON messages (hour, state, code, latency_s, nationcode, template_id, sign_name, at);"
)


def _fold(mark: int) -> str:
    """The log up to `mark`, summed per cell into the rollups (the same cells as the shipped triggers)."""
    hour = f"CASE WHEN m.at >= 0 THEN m.at / {HOUR_US} ELSE (m.at + 1) / {HOUR_US} - 1 END"
    minute = "CASE WHEN m.at >= 0 THEN m.at / 60000000 ELSE (m.at + 1) / 60000000 - 1 END"
    value = (
        "CASE g.column1 WHEN 1 THEN coalesce(m.nationcode, char(1)) WHEN 2 THEN coalesce(m.template_id, char(1))"
        " WHEN 3 THEN coalesce(m.sign_name, char(1)) ELSE '' END"
    )
    return f"""INSERT INTO rollups (grain, slot, value, outcome, code, latency, n)
SELECT g.column1, CASE WHEN g.column1 = 4 THEN {minute} ELSE {hour} END, {value}, coalesce(m.state, ''),
    coalesce(m.code, char(1)), coalesce({bucket_sql("m.latency_s")}, 9223372036854775807), sum(m.sign)
FROM rollup_log AS m, (VALUES (0), (1), (2), (3), (4)) AS g WHERE m.id <= {mark}
GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(m.sign) <> 0
ON CONFLICT DO UPDATE SET n = n + excluded.n"""


def data() -> tuple[list[Push], list[Send]]:
    return stats.workload(PUSHES, PER_PUSH, mixed=True)


async def one(path: Path, mode: str, sends_first: bool, pushes: list[Push], sends: list[Send]) -> float:
    store = SQLiteStore(path)
    await store.open()
    side = connect(str(path))
    changes = {"log": LOG, "none": NONE, "none+messages_stats": NONE + STATS_INDEX, "split": _split_triggers()}
    for statement in changes.get(mode, "").split(";\n"):
        if statement.strip():
            side.execute(statement)
    if sends_first:
        await store.register_sends(sends)
    spent = 0.0
    for n, start in enumerate(range(0, len(pushes), GROUP), 1):
        began = time.process_time()
        await store.write(pushes[start : start + GROUP])
        if mode == "log" and (n % FOLD_EVERY == 0 or start + GROUP >= len(pushes)):
            mark = side.execute("SELECT coalesce(max(id), 0) FROM rollup_log").get
            with side:  # one transaction: fold and forget
                side.execute(_fold(mark))
                side.execute("DELETE FROM rollup_log WHERE id <= ?", (mark,))
        spent += time.process_time() - began
    if mode in ("in-commit", "log", "split"):  # all keep the same cells
        cells = side.execute("SELECT count(*), sum(n) FROM rollups WHERE grain = 0").get
        assert cells[1] == PUSHES * PER_PUSH, cells
    side.close()
    await store.close()
    return spent / (PUSHES * PER_PUSH) * 1e6


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--modes", default="in-commit,split,log,none,none+messages_stats")
    args = p.parse_args()
    pushes, sends = data()
    modes = tuple(args.modes.split(","))
    best = {(m, s): float("inf") for m in modes for s in (False, True)}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.rounds):  # modes alternate within each round, so a busy moment hits them alike
            for mode in modes:
                for sends_first in (False, True):
                    path = Path(folder) / f"{r}-{mode}-{sends_first}.db"
                    took = asyncio.run(one(path, mode, sends_first, pushes, sends))
                    best[mode, sends_first] = min(best[mode, sends_first], took)
    print("| mode | receipts start messages | receipts complete registered sends |")
    print("|---|---:|---:|")
    for mode in modes:
        print(f"| {mode} | {best[mode, False]:.2f} µs | {best[mode, True]:.2f} µs |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
