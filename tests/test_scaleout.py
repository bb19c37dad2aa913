"""Several processes on one PostgreSQL database: no coordination but the database, each report stored once."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.factories import batch, body

ACK = {"result": 0, "errmsg": "OK"}


def all_reports(url: str) -> list[dict]:
    found, cursor = [], None
    with httpx.Client(base_url=url, timeout=30) as client:
        while True:
            page = client.get("/v1/reports", params={"limit": 1000, **({"cursor": cursor} if cursor else {})}).json()
            found += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return found


def metric(url: str, name: str) -> int:
    text = httpx.get(url + "/metrics").text
    return int(next(line.split()[1] for line in text.splitlines() if line.startswith(name + " ")))


@pytest.mark.backends("postgresql")
def test_two_servers_receiving_the_same_pushes_store_each_report_once(start_server, tmp_path):
    db = tmp_path / "shared.db"
    a, b = start_server(db=db), start_server(db=db)
    pushes = [batch(start, 20, prefix="scale:") for start in range(0, 1000, 20)]
    # each push goes to both servers at once (a retry landing on the other instance), some a third time
    rng = random.Random(5)
    plan = [(p, server) for p in pushes for server in (a, b)] + [
        (p, rng.choice((a, b))) for p in rng.sample(pushes, 10)
    ]
    rng.shuffle(plan)
    answers: list[dict] = []

    def send(part: list) -> None:
        with httpx.Client(timeout=30) as client:
            for items, server in part:
                answers.append(client.post(server.url + "/sms/callback", content=body(items)).json())

    threads = [threading.Thread(target=send, args=(plan[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert answers == [ACK] * len(plan)

    stored = all_reports(a.url)
    sids = [r["sid"] for r in stored]
    assert len(sids) == len(set(sids)) == 1000, "each report exactly once"
    assert sum(r["duplicates"] for r in stored) == len(plan) * 20 - 1000
    assert all_reports(b.url) == stored  # both instances answer from the same data
    assert metric(a.url, "delivrd_reports_total") == 1000


@pytest.mark.backends("postgresql")
def test_serve_workers_runs_several_processes_on_one_port(start_server):
    server = start_server("--workers", "2")
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    workers = [pid for pid in children if b"multiprocessing.spawn" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(workers) == 2, children
    with httpx.Client(base_url=server.url) as client:
        for start in range(0, 200, 20):
            assert client.post("/sms/callback", content=body(batch(start, 20))).json() == ACK
    assert len(all_reports(server.url)) == 200


def test_workers_on_sqlite_are_refused_with_a_reason(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "delivrd", "serve", "--workers", "2", "--db", str(tmp_path / "d.db")],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "DELIVRD_DATABASE_URL": ""},
    )
    assert result.returncode == 2
    assert "--workers above 1 needs PostgreSQL" in result.stderr


def counters(url: str) -> dict[str, float]:
    """Every counter sample of one scrape: `name{labels}` → value."""
    text = httpx.get(url + "/metrics").text
    types = {line.split()[2]: line.split()[3] for line in text.splitlines() if line.startswith("# TYPE")}
    found = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        sample, value = line.rsplit(" ", 1)
        family = sample.split("{")[0]
        base = family.removesuffix("_total").removesuffix("_count").removesuffix("_sum").removesuffix("_bucket")
        if types.get(family) == "counter" or types.get(base) in ("counter", "histogram"):
            found[sample] = float(value)
    return found


@pytest.mark.backends("postgresql")
def test_metrics_are_the_same_whichever_worker_answers_and_never_decrease(start_server):
    server = start_server("--workers", "2")
    for start in range(0, 400, 20):  # a connection each, so that both workers take some
        assert httpx.post(server.url + "/sms/callback", content=body(batch(start, 20))).json() == ACK
    assert httpx.post(server.url + "/sms/callback", content=b"not json").json()["result"] == 1001
    worker = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()[0]
    environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
    directory = next(v.split(b"=", 1)[1] for v in environ if v.startswith(b"PROMETHEUS_MULTIPROC_DIR=")).decode()
    counted_by = {name.stem.rsplit("_", 1)[1] for name in Path(directory).glob("counter_*.db")}
    assert len(counted_by) == 2, f"both workers took callbacks, or this test shows nothing: {counted_by}"
    scrapes = [counters(server.url) for _ in range(20)]  # each on a new connection: either worker may answer
    assert all(scrape == scrapes[0] for scrape in scrapes), "the same counters whichever worker answered"
    first = scrapes[0]
    assert first["delivrd_commits_total"] >= 1
    assert first["delivrd_committed_pushes_total"] == 21
    assert first['delivrd_callback_answers_total{result="0",route="callback"}'] == 20
    assert first['delivrd_callback_answers_total{result="1001",route="callback"}'] == 1
    assert first['delivrd_callback_duration_seconds_count{route="callback"}'] == 21
    assert first["delivrd_reports_total"] == 400

    # more traffic between scrapes: every counter moves forward or stays, whichever worker answers
    previous = first
    for start in range(400, 600, 20):
        assert httpx.post(server.url + "/sms/callback", content=body(batch(start, 20))).json() == ACK
        scrape = counters(server.url)
        assert all(scrape.get(name, 0) >= value for name, value in previous.items()), "a counter went down"
        previous = scrape
    assert previous["delivrd_committed_pushes_total"] == 31
