"""An ack means stored, shown from the sender's side: SIGKILL the server again and again mid-run."""

import json
import subprocess
import sys
import time

import pytest

from delivrd.simulate.ledger import read


@pytest.mark.backends("sqlite")  # the simulator's ledger is the subject; each store's SIGKILL: test_durability
def test_sigkill_and_restart_while_pushing_loses_no_acked_report(server, tmp_path):
    ledger, summary = tmp_path / "crash.jsonl", tmp_path / "summary.json"
    simulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "delivrd",
            "simulate",
            "--url",
            f"{server.url}/sms/callback",
            "--duration",
            "5",
            "--concurrency",
            "8",
            "--batch",
            "20",
            "--retry-delay",
            "0.3",
            "--timeout",
            "2",
            "--seed",
            "99",
            "--ledger",
            str(ledger),
            "--json",
            str(summary),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    kills = 0
    try:
        for _ in range(3):
            time.sleep(1.0)
            server.kill()  # SIGKILL, requests in flight
            kills += 1
            time.sleep(0.2)
            server.start()  # same port, same database
    finally:
        output = simulator.communicate(timeout=60)[0].decode()
    assert kills == 3
    stats = json.loads(summary.read_text())
    assert stats["reports_acked"] > 500, output
    assert stats["retries"] > 0, output
    assert stats["answers"].get("connection error", 0) > 0, "the kills should have cut some pushes"
    assert len(read(ledger)) == stats["reports_acked"]

    verify = subprocess.run(
        [sys.executable, "-m", "delivrd", "simulate", "verify", "--ledger", str(ledger), "--url", server.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"{stats['reports_acked']} found, 0 missing, 0 doubled" in verify.stdout
