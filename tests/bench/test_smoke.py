"""The benchmark harness still runs end to end (tiny durations: it checks the harness, measures nothing)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import LostReports, verify

ROOT = Path(__file__).resolve().parents[2]


def need_wrk() -> None:
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have {', '.join(missing)} (.ci/run installs wrk)")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install -y wrk)")


def test_quick_run_measures_every_server_and_checks_what_delivrd_stored(tmp_path):
    need_wrk()
    out = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--sustained",
            "2",
            "--out",
            str(out),
            "--only",
            "ceiling",
            "--only",
            "naive",
            "--only",
            "delivrd-sqlite",
            "--only",
            "delivrd-pg",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert "error" not in result
    assert {(r["server"], r["batch"]) for r in result["rows"]} == {
        (server, batch) for server in ("ceiling", "naive", "delivrd-sqlite") for batch in (1, 100)
    }
    for row in result["rows"]:
        assert row["acked_requests"] > 0, row
        assert row["reports_per_s"] == pytest.approx(row["requests_per_s"] * row["batch"], rel=1e-3)
        assert row["cpu_us_per_request"] > 0 and 0 < row["core_busy_pct"] <= 200, row  # the server did work
        assert row["cpu_us_per_request_main_thread"] > 0, row
    for row in (r for r in result["rows"] if r["server"] == "delivrd-sqlite"):  # the writer is another thread
        assert row["cpu_us_per_request_main_thread"] < row["cpu_us_per_request"], row
    for row in (r for r in result["rows"] if r["server"] == "delivrd-sqlite"):
        check = row["check"]
        assert check["stored_reports"] >= check["acked_reports"] == row["acked_requests"] * row["batch"]
        assert "vs_ceiling" in row and "vs_naive" in row
    assert result["skipped"] == [{"server": "delivrd-pg", "reason": "needs --postgres URL"}]
    assert result["latency"]["acked_requests"] > 0
    assert result["latency_rounds"] == [result["latency"]]  # --quick: one round
    assert result["latency"]["check"]["stored_reports"] >= result["latency"]["check"]["acked_reports"]
    sustained = result["sustained"]
    assert sustained["check"]["stored_reports"] >= sustained["check"]["acked_reports"] > 0
    assert len(sustained["rss_series_mb"]) >= 2
    assert {t["target"] for t in result["targets"]} >= {"batch 100: ≥ 200,000 reports/s"}
    assert "delivrd-sqlite" in done.stdout  # the table was printed
    table = subprocess.run(
        [sys.executable, "-m", "bench.markdown", str(out)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "| delivrd-sqlite | 100 |" in table and "skipped delivrd-pg: needs --postgres URL" in table


def test_a_run_that_stored_less_than_it_acked_fails_loudly():
    with pytest.raises(LostReports, match="3 acked reports are missing"):
        verify("delivrd-sqlite", 1, acked_reports=10, stored=7, slack=64)


def test_more_stored_than_could_have_been_in_flight_fails_too():
    with pytest.raises(LostReports, match="more than acked"):
        verify("delivrd-sqlite", 100, acked_reports=1000, stored=1000 + 6500, slack=6400)
    assert verify("delivrd-sqlite", 1, acked_reports=10, stored=12, slack=64)["unacked_but_stored"] == 2


def test_cpu_times_never_show_a_main_thread_above_its_process():
    from bench.servers import CpuTimes

    # per-process and per-thread times are separate tick counts read one after the other
    assert CpuTimes(1.00, 1.01) - CpuTimes(0.0, 0.0) == CpuTimes(1.00, 1.00)
    assert CpuTimes(3.0, 1.5) - CpuTimes(1.0, 0.5) == CpuTimes(2.0, 1.0)
    assert CpuTimes(1.0, 0.5) + CpuTimes(2.0, 2.0) == CpuTimes(3.0, 2.5)


def test_writer_profile_runs_the_stores_own_write(capsys):
    from bench import writer

    assert writer.main(["--pushes", "6", "--batch", "3", "--group", "2"]) == 0
    out = capsys.readouterr().out
    assert "6 pushes of 3, 2 per commit" in out
    for stage in ("write", "mobile index", "report upsert", "messages fold", "commit"):
        assert stage in out, out
    # the WAL pass: one measured commit of 2 pushes writes at least a page of each table it inserts into
    assert "WAL pages per commit" in out
    for table in ("inbox", "reports", "messages", "reports_sid_key"):
        assert re.search(rf"^ +{table} +\d+\.\d$", out, re.M), out


def test_a_postgresql_run_measures_the_database_backends_too(tmp_path):
    """delivrd on PostgreSQL: its stored count is checked, and the CPU of its sessions' backends is in the row."""
    from tests.databases import POSTGRES_URL, require_postgres

    need_wrk()
    require_postgres()
    out = tmp_path / "pg.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench", "--quick", "--sustained", "0", "--out", str(out)),
            *("--only", "delivrd-pg", "--postgres", POSTGRES_URL),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(out.read_text())["rows"]
    assert {(r["server"], r["batch"]) for r in rows} == {("delivrd-pg", 1), ("delivrd-pg", 100)}
    for row in rows:
        assert row["check"]["stored_reports"] >= row["check"]["acked_reports"] > 0, row
        assert row["db_cpu_us_per_request"] > 0, row  # the backends did the storing
    table = subprocess.run(
        [sys.executable, "-m", "bench.markdown", str(out)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "db cpu µs/req" in table


def test_postgresql_write_profile_runs_the_stores_own_write(capsys):
    from bench import pgwriter
    from tests.databases import POSTGRES_URL, require_postgres

    require_postgres()
    assert (
        pgwriter.main(["--postgres", POSTGRES_URL, "--batch", "3", "--group", "2", "--groups", "3", "--rounds", "1"])
        == 0
    )
    out = capsys.readouterr().out
    assert re.search(r"delivrd process \d+\.\d\d \(of it building the arguments \d+\.\d\d\), PostgreSQL backend", out)
