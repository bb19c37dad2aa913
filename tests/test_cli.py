"""The `delivrd` command: help that explains, one-line errors, secrets kept out of --help, options that arrive."""

import os
import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest

from tests.factories import batch, body, report
from tests.insight_mix import HOUR, NOW
from tests.test_retention import seed

ACK = {"result": 0, "errmsg": "OK"}


def delivrd(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "delivrd", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=30,
    )


def test_help_lists_commands_and_serve_explains_every_option():
    assert "serve" in delivrd("--help").stdout
    help_text = delivrd("serve", "--help").stdout
    for option, variable in [
        ("--host", "DELIVRD_HOST"),
        ("--port", "DELIVRD_PORT"),
        ("--db", "DELIVRD_DB"),
        ("--callback-token", "DELIVRD_CALLBACK_TOKEN"),
        ("--api-key", "DELIVRD_API_KEY"),
        ("--max-body-bytes", "DELIVRD_MAX_BODY_BYTES"),
        ("--database-url", "DELIVRD_DATABASE_URL"),
        ("--workers", "DELIVRD_WORKERS"),
        ("--retention-days", "DELIVRD_RETENTION_DAYS"),
    ]:
        assert option in help_text and variable in help_text


def test_secrets_from_the_environment_are_not_printed_by_help():
    help_text = delivrd("serve", "--help", env={"DELIVRD_API_KEY": "topsecret", "DELIVRD_CALLBACK_TOKEN": "t0k"}).stdout
    assert "topsecret" not in help_text and "t0k" not in help_text


def test_unusable_database_is_one_clear_line():
    result = delivrd("serve", "--db", "/no/such/dir/d.db")
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "delivrd: cannot open SQLite database /no/such/dir/d.db: unable to open database file"
    )


def test_bad_size_is_a_usage_error():
    result = delivrd("serve", "--max-body-bytes", "lots")
    assert result.returncode == 2 and "not a size in bytes" in result.stderr


@pytest.mark.backends("sqlite")  # the options' way into the service, not storage
def test_serve_hands_each_option_and_variable_to_the_service(backend, start_server, tmp_path):
    """The HTTP tests build the service's settings directly, in process; this is where `delivrd serve`
    is checked to pass its flags and DELIVRD_* variables on, one observable effect each."""
    db = tmp_path / "d.db"
    seed(backend, db, {"old": 40, "recent": 2})
    server = start_server(
        "--api-key",
        "k3y",
        "--max-body-bytes",
        "1k",
        "--no-receipt-after",
        "90m",
        "--retention-days",
        "30",
        env={"DELIVRD_CALLBACK_TOKEN": "from-env"},
        db=db,
    )
    key = {"authorization": "Bearer k3y"}
    token = {"token": "from-env"}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/v1/reports").status_code == 401
        assert {r["sid"] for r in client.get("/v1/reports", headers=key).json()["items"]} == {"recent"}
        assert client.post("/sms/callback", content=body([report(1)])).status_code == 401
        assert client.post("/sms/callback", content=body([report(1)]), params=token).json() == ACK
        assert client.post("/sms/callback", content=body(batch(0, 50)), params=token).status_code == 413
        two_hours_ago = datetime.fromtimestamp(NOW - 2 * HOUR, UTC).isoformat()
        call = {"SentAt": two_hours_ago, "SendStatusSet": [{"SerialNo": "5000:9", "PhoneNumber": "+8613800000009"}]}
        registered = client.post("/v1/messages", json=call, headers=key).json()
        assert registered["messages"][0]["state"] == "no_receipt"


@pytest.mark.backends("sqlite")  # SQLite's single writer is the subject
def test_a_second_server_on_one_sqlite_file_is_refused_and_the_commands_still_work_beside_one(server):
    from tests.servers import free_port

    db = str(server.db)
    second = delivrd("serve", "--db", db, "--port", str(free_port()))
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert second.stderr == (
        f"delivrd: {db} is already served by process {server.proc.pid}: SQLite has a single writer, so one delivrd"
        " serves a SQLite file; several processes need PostgreSQL (--database-url)\n"
    )
    assert httpx.post(f"{server.url}/sms/callback", content=body([report(1)])).json() == ACK
    for command in (["stats"], ["export", "reports"], ["db", "status"], ["db", "prune", "--retention-days", "30"]):
        beside = delivrd(*command, "--db", db)
        assert beside.returncode == 0, (command, beside.stderr)
    server.restart()  # a server killed with SIGKILL leaves no lock behind
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}


def test_serve_reports_an_unknown_option_as_serves():
    result = delivrd("serve", "--prot", "9000")
    assert result.returncode == 2
    assert result.stderr == (
        "delivrd serve: unrecognized arguments: --prot 9000 (did you mean --port? see delivrd serve --help)\n"
    )
