"""`delivrd db backup`: a copy of the SQLite file taken while a server is being pushed to, and restored.

The promise checked is the one that matters for a backup: every report acked before a backup began is in it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import apsw
import httpx
import pytest

from tests.factories import batch, body

pytestmark = pytest.mark.backends("sqlite")

BATCH = 20


def delivrd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "delivrd", *args], capture_output=True, text=True, timeout=60)


def sids_in(path: Path) -> set[str]:
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return {sid for (sid,) in conn.execute("SELECT sid FROM reports")}
    finally:
        conn.close()


class Pusher(threading.Thread):
    """Pushes batches of new reports until stopped, recording the sids of each batch once it is acked."""

    def __init__(self, url: str, first: int) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.next = first
        self.acked: list[str] = []
        self.stopping = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=10) as client:
                while not self.stopping.is_set():
                    items = batch(self.next, BATCH)
                    self.next += BATCH
                    answer = client.post("/sms/callback", content=body(items))
                    if answer.status_code == 200 and answer.json()["result"] == 0:
                        self.acked.extend(item["sid"] for item in items)
        except BaseException as exc:  # said by the test, not lost in a thread
            self.failure = exc


def test_a_backup_taken_while_serving_holds_every_report_acked_before_it_and_restores(start_server, tmp_path):
    server = start_server()
    pushers = [Pusher(server.url, first) for first in (0, 10_000_000)]
    for pusher in pushers:
        pusher.start()
    backups: list[tuple[Path, set[str]]] = []
    try:
        time.sleep(0.3)
        for n in range(4):
            acked_before = {sid for pusher in pushers for sid in list(pusher.acked)}
            target = tmp_path / f"backup-{n}.db"
            done = delivrd("db", "backup", "--db", str(server.db), "--to", str(target))
            assert done.returncode == 0, done.stderr
            assert f"to {target}" in done.stdout
            backups.append((target, acked_before))
            time.sleep(0.2)
    finally:
        for pusher in pushers:
            pusher.stopping.set()
        for pusher in pushers:
            pusher.join(30)
    for pusher in pushers:
        assert pusher.failure is None, pusher.failure
    assert not list(tmp_path.glob("*.partial"))

    for target, acked_before in backups:
        assert acked_before, "nothing was acked before the backup: the test pushed nothing"
        missing = acked_before - sids_in(target)
        assert not missing, f"{len(missing)} reports acked before {target.name} are not in it"
    # the pushes went on while the backups were taken: the last backup is behind the live database
    last, _ = backups[-1]
    in_last = sids_in(last)
    assert len(in_last) < sum(len(p.acked) for p in pushers)

    # restore as docs/operations.md says: stop, remove the WAL and its index, put the backup in place, start
    assert server.stop()
    for leftover in (server.db, Path(f"{server.db}-wal"), Path(f"{server.db}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(last, server.db)
    server.start()
    served: set[str] = set()
    cursor: str | None = None
    with httpx.Client(base_url=server.url, timeout=10) as client:
        while True:
            page = client.get("/v1/reports", params={"limit": 1000, **({"cursor": cursor} if cursor else {})}).json()
            served.update(item["sid"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert served == in_last


def test_a_backup_replaces_an_older_one_and_refuses_the_database_itself(tmp_path):
    db = tmp_path / "delivrd.db"
    assert delivrd("db", "upgrade", "--db", str(db)).returncode == 0
    target = tmp_path / "backup.db"
    target.write_bytes(b"an older backup")
    assert delivrd("db", "backup", "--db", str(db), "--to", str(target)).returncode == 0
    assert delivrd("db", "status", "--db", str(target)).stdout.startswith("schema version")

    itself = delivrd("db", "backup", "--db", str(db), "--to", str(db))
    assert itself.returncode == 2
    assert "is the database itself" in itself.stderr


def test_a_backup_names_what_is_wrong_without_a_traceback(tmp_path):
    missing = delivrd("db", "backup", "--db", str(tmp_path / "nope.db"), "--to", str(tmp_path / "b.db"))
    assert (missing.returncode, missing.stderr) == (
        2,
        f"delivrd: no database at {tmp_path / 'nope.db'} (give --db or DELIVRD_DB)\n",
    )

    db = tmp_path / "delivrd.db"
    assert delivrd("db", "upgrade", "--db", str(db)).returncode == 0
    unwritable = delivrd("db", "backup", "--db", str(db), "--to", str(tmp_path / "no-such-dir" / "b.db"))
    assert unwritable.returncode == 2
    assert "failed: unable to open database file" in unwritable.stderr
    assert "Traceback" not in unwritable.stderr

    postgres = delivrd("db", "backup", "--database-url", "postgresql://u@localhost/db", "--to", str(tmp_path / "b.db"))
    assert postgres.returncode == 2
    assert "pg_dump" in postgres.stderr
