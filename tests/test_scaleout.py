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
