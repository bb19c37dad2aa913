"""An ack means stored: across restarts, SIGTERM and SIGKILL (a `delivrd serve` process: the process is the
point), and when storage refuses or its connections are cut (in process)."""

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import apsw
import asyncpg
import httpx
import pytest

from delivrd.domain import results
from tests.databases import postgres
from tests.factories import batch, body, report
from tests.servers import InProcessApp

ACK = {"result": 0, "errmsg": "OK"}
T = TypeVar("T")


def stored_sids(server) -> list[str]:
    """Every stored report's sid, read page by page through the read API (so on either backend)."""
    sids: list[str] = []
    cursor = None
    with httpx.Client(base_url=server.url, timeout=30) as client:
        while True:
            params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/reports", params=params).json()
            sids += [item["sid"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return sids


def pushers(server, threads: int, per_push: int, stop: threading.Event, acked: list[str], prefix: str):
    """Start `threads` clients that push unique batches until `stop`, recording what was acked."""
    lock = threading.Lock()
    counter = iter(range(10**9))

    def run():
        with httpx.Client(base_url=server.url, timeout=5) as client:
            while not stop.is_set():
                with lock:
                    start = next(counter) * per_push
                items = batch(start, per_push, prefix=prefix)
                try:
                    answer = client.post("/sms/callback", content=body(items))
                except httpx.TransportError:
                    continue  # the server is gone: this push was not acked
                if answer.status_code == 200 and answer.json() == ACK:
                    with lock:
                        acked.extend(item["sid"] for item in items)

    workers = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    return workers


def test_data_survives_a_restart(server):
    with httpx.Client(base_url=server.url) as client:
        assert client.post("/sms/callback", content=body(batch(0, 20))).json() == ACK
    assert server.stop()
    server.start()
    with httpx.Client(base_url=server.url) as client:
        assert len(client.get("/v1/reports", params={"limit": 100}).json()["items"]) == 20


def test_sigkill_while_pushing_loses_no_acked_report(server):
    acked: list[str] = []
    for round_ in range(3):
        stop = threading.Event()
        workers = pushers(server, threads=8, per_push=5, stop=stop, acked=acked, prefix=f"kill{round_}:")
        time.sleep(0.5)  # hundreds of pushes acked and more in flight when the kill comes
        server.kill()
        stop.set()
        for worker in workers:
            worker.join(10)
        server.start()
    assert len(acked) > 100, "the clients should have been acked many times before the kills"
    stored = stored_sids(server)
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} acked reports lost, e.g. {sorted(missing)[:5]}"
    assert len(stored) == len(set(stored)), "a report was stored twice"


def test_sigterm_finishes_what_was_accepted(server):
    acked: list[str] = []
    stop = threading.Event()
    workers = pushers(server, threads=8, per_push=20, stop=stop, acked=acked, prefix="term:")
    time.sleep(0.5)
    clean = server.stop()
    stop.set()
    for worker in workers:
        worker.join(10)
    assert clean
    assert acked
    server.start()
    assert set(acked) <= set(stored_sids(server))


class Blocker:
    """Another client holding a table delivrd writes to (on PostgreSQL the inbox, which reads of reports do
    not touch), so that its commits fail (after SQLite's busy timeout or PostgreSQL's lock_timeout) while
    its reads, and so its store ping, still answer.

    On SQLite through apsw, the store's own SQLite library: POSIX locks are per process, so only the same
    library sees a lock taken in this process (the standard library's sqlite3 would not block the app)."""

    def __init__(self, app: InProcessApp, backend) -> None:
        self.app, self.backend = app, backend

    def __enter__(self) -> "Blocker":
        if self.backend.name == "sqlite":
            self.conn = apsw.Connection(str(self.app.db))
            self.conn.execute("BEGIN EXCLUSIVE")  # in WAL mode readers go on; writers wait, then give up
        else:
            self.loop = asyncio.new_event_loop()
            self.conn = self.loop.run_until_complete(asyncpg.connect(self.app.database_url))
            self.loop.run_until_complete(self.conn.execute("BEGIN; LOCK TABLE inbox IN ACCESS EXCLUSIVE MODE"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.backend.name == "sqlite":
            self.conn.execute("ROLLBACK")
            self.conn.close()
        else:
            self.loop.run_until_complete(self.conn.close())
            self.loop.close()


def test_storage_that_cannot_commit_answers_503_and_healthz_says_so_then_both_recover(start_app, backend, monkeypatch):
    # how long a commit waits on the lock before it fails: the same path as the 5 s default, sooner
    monkeypatch.setattr("delivrd.store.sqlite.connect.BUSY_TIMEOUT_MS", 500)
    monkeypatch.setattr("delivrd.store.postgres.store.LOCK_TIMEOUT_MS", 500)
    app = start_app()
    client = app.client
    with Blocker(app, backend):
        answer = client.post("/sms/callback", content=body([report(1)]))
        assert answer.status_code == 503
        reason = "locked" if backend.name == "sqlite" else "lock timeout"
        assert answer.json()["result"] == results.COMMIT_FAILED and reason in answer.json()["errmsg"]
        health = wait_for(lambda: client.get("/healthz"), lambda answer: answer.status_code == 503, within=5)
        assert health.status_code == 503, health.text
        assert health.json()["status"] == "unavailable" and health.json()["error"], health.text
        assert client.get("/v1/reports").status_code == 200  # reads still work: it is the commits that fail
    assert client.post("/sms/callback", content=body([report(1)])).json() == ACK
    assert len(client.get("/v1/reports").json()["items"]) == 1
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.backends("postgresql")
def test_postgresql_connections_cut_then_service_recovers(app, client, backend):
    """As if PostgreSQL restarted: every connection of this delivrd is terminated; the service goes on."""
    assert client.post("/sms/callback", content=body([report(1)])).json() == ACK
    cut = postgres(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        backend.schemas[app.db],  # the test URL names each database's connections after its schema
    )
    assert cut, "delivrd had no connection to cut"
    answers = [client.post("/sms/callback", content=body([report(n)])) for n in range(2, 8)]
    assert all(a.status_code in (200, 503) for a in answers)  # the first use of a cut connection may fail
    assert answers[-1].json() == ACK
    assert client.get("/healthz").json() == {"status": "ok"}
    stored = {r["sid"] for r in client.get("/v1/reports").json()["items"]}
    acked = {report(n)["sid"] for n, a in zip(range(2, 8), answers) if a.status_code == 200}
    assert acked | {report(1)["sid"]} <= stored


def wait_for(get: Callable[[], T], done: Callable[[T], bool], within: float) -> T:
    """`get()` again until `done` says so, for at most `within` seconds; its last value either way."""
    deadline = time.monotonic() + within
    while not done(value := get()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value
