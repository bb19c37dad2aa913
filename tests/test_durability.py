"""An ack means stored: across restarts, SIGTERM, SIGKILL, and when storage refuses."""

import asyncio
import sqlite3
import threading
import time

import asyncpg
import httpx
import pytest
from conftest import postgres
from factories import batch, body, report

ACK = {"result": 0, "errmsg": "OK"}


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
        time.sleep(1.0)
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
    time.sleep(1.0)
    clean = server.stop()
    stop.set()
    for worker in workers:
        worker.join(10)
    assert clean
    assert acked
    server.start()
    assert set(acked) <= set(stored_sids(server))


class Blocker:
    """Another client holding the tables delivrd writes to, so its commit cannot happen."""

    def __init__(self, server, backend) -> None:
        self.server, self.backend = server, backend

    def __enter__(self) -> "Blocker":
        if self.backend.name == "sqlite":
            self.conn = sqlite3.connect(self.server.db, isolation_level=None)
            self.conn.execute("BEGIN EXCLUSIVE")
        else:
            self.loop = asyncio.new_event_loop()
            self.conn = self.loop.run_until_complete(asyncpg.connect(self.server.database_url))
            self.loop.run_until_complete(self.conn.execute("BEGIN; LOCK TABLE report_keys IN ACCESS EXCLUSIVE MODE"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.backend.name == "sqlite":
            self.conn.execute("ROLLBACK")
            self.conn.close()
        else:
            self.loop.run_until_complete(self.conn.close())
            self.loop.close()


def test_storage_that_cannot_commit_answers_503_then_recovers(server, backend):
    with Blocker(server, backend):
        with httpx.Client(base_url=server.url, timeout=30) as client:
            answer = client.post("/sms/callback", content=body([report(1)]))
            assert answer.status_code == 503
            reason = "locked" if backend.name == "sqlite" else "lock timeout"
            assert answer.json()["result"] == 2002 and reason in answer.json()["errmsg"]
    with httpx.Client(base_url=server.url) as client:
        assert client.post("/sms/callback", content=body([report(1)])).json() == ACK
        assert len(client.get("/v1/reports").json()["items"]) == 1


@pytest.mark.backends("postgresql")
def test_postgresql_connections_cut_then_service_recovers(server, backend):
    """As if PostgreSQL restarted: every connection of this delivrd is terminated; the process lives on."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.post("/sms/callback", content=body([report(1)])).json() == ACK
        cut = postgres(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            backend.schemas[server.db],  # the test URL names each server's connections after its schema
        )
        assert cut, "delivrd had no connection to cut"
        answers = [client.post("/sms/callback", content=body([report(n)])) for n in range(2, 8)]
        assert all(a.status_code in (200, 503) for a in answers)  # the first use of a cut connection may fail
        assert answers[-1].json() == ACK
        assert server.alive()
        assert client.get("/healthz").json() == {"status": "ok"}
        stored = {r["sid"] for r in client.get("/v1/reports").json()["items"]}
        acked = {report(n)["sid"] for n, a in zip(range(2, 8), answers) if a.status_code == 200}
        assert acked | {report(1)["sid"]} <= stored
