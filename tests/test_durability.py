"""An ack means stored: across restarts, SIGTERM, SIGKILL, and when storage refuses."""

import sqlite3
import threading
import time

import httpx
from factories import batch, body, report

ACK = {"result": 0, "errmsg": "OK"}


def stored_sids(server) -> set[str]:
    with sqlite3.connect(server.db) as db:
        return {sid for (sid,) in db.execute("SELECT sid FROM reports")}


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
    missing = set(acked) - stored_sids(server)
    assert not missing, f"{len(missing)} acked reports lost, e.g. {sorted(missing)[:5]}"


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
    assert set(acked) <= stored_sids(server)


def test_storage_that_cannot_commit_answers_503_then_recovers(server):
    blocker = sqlite3.connect(server.db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            answer = client.post("/sms/callback", content=body([report(1)]))
            assert answer.status_code == 503
            assert answer.json()["result"] == 2002 and "locked" in answer.json()["errmsg"]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with httpx.Client(base_url=server.url) as client:
        assert client.post("/sms/callback", content=body([report(1)])).json() == ACK
        assert len(client.get("/v1/reports").json()["items"]) == 1
