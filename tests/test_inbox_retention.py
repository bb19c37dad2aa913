"""`--inbox-retention-days`: raw inbox bodies get a shorter life than the rest (their rows stay), applied at start
(and hourly) by the service and once by `delivrd db prune`, on both backends; longer than --retention-days is
refused."""

from __future__ import annotations

import subprocess
import sys

from tests.test_retention import seed


def bodies(client) -> list[str | None]:
    """The inbox bodies, newest first."""
    return [e["body"] for e in client.get("/v1/inbox").json()["items"]]


def delivrd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "delivrd", *args], capture_output=True, text=True, timeout=60)


def test_the_service_drops_old_bodies_and_keeps_their_rows(backend, tmp_path, start_app):
    db = tmp_path / "r.db"
    seed(backend, db, {"old": 10, "mid": 4, "recent": 1})
    client = start_app(db=db, retention_days=30, inbox_retention_days=3).client
    assert bodies(client) == ["[]", None, None]
    assert {r["sid"] for r in client.get("/v1/reports").json()["items"]} == {"old", "mid", "recent"}


def test_db_prune_drops_old_bodies_once_and_again_finds_none(backend, tmp_path, start_app):
    db = tmp_path / "r.db"
    seed(backend, db, {"old": 10, "mid": 4, "recent": 1})
    url = backend.database_url(db)
    args = ["--db", str(db), *(["--database-url", url] if url else [])]
    first = delivrd("db", "prune", "--inbox-retention-days", "3", *args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "dropped the bodies of inbox rows older than 3 days (the rows stay): 2 inbox bodies\n"
    again = delivrd("db", "prune", "--inbox-retention-days", "3", *args)
    assert again.stdout.endswith(": 0 inbox bodies\n")
    both = delivrd("db", "prune", "--retention-days", "5", "--inbox-retention-days", "1", *args)
    assert both.returncode == 0, both.stderr
    assert "1 report," in both.stdout and both.stdout.endswith(": 1 inbox body\n")
    client = start_app(db=db).client
    assert bodies(client) == [None, None]


def test_inbox_retention_longer_than_retention_is_refused(tmp_path):
    db = tmp_path / "none.db"
    for command in (["db", "prune"], ["serve"]):
        refused = delivrd(*command, "--retention-days", "5", "--inbox-retention-days", "7", "--db", str(db))
        assert refused.returncode == 2
        assert "--inbox-retention-days (7) is longer than --retention-days (5)" in refused.stderr, refused.stderr
    neither = delivrd("db", "prune", "--db", str(db))
    assert neither.returncode == 2 and "--retention-days, --inbox-retention-days or both" in neither.stderr
