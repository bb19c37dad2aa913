"""A person's mistakes on the command line: each is one line on stderr that names what they set (the flag or the
DELIVRD_* variable) and what would be valid, exit status 2, never a traceback nor a page of usage."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from delivrd.config import OPTIONS, variable


def delivrd(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {variable(name) for name in OPTIONS}}
    return subprocess.run(
        [sys.executable, "-m", "delivrd", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        cwd=cwd,
        timeout=60,
    )


def one_line(result: subprocess.CompletedProcess) -> str:
    """The single line a mistake prints, checked to be alone, on stderr, without a traceback."""
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


#: (arguments, environment, what the line must say); none of them gets as far as opening a database
MISTAKES = [
    # flags
    (["serve", "--port", "abc"], {}, ["--port", "'abc'", "1 to 65535"]),
    (["serve", "--port", "70000"], {}, ["--port", "1 to 65535"]),
    (["serve", "--log-level", "verbose"], {}, ["--log-level", "'verbose'", "debug"]),
    (["serve", "--max-body-bytes", "lots"], {}, ["--max-body-bytes", "512k"]),
    (["serve", "--workers", "0"], {}, ["--workers", "positive"]),
    (["serve", "--header-timeout", "soon"], {}, ["--header-timeout", "'soon'"]),
    (["serve", "--retention-days", "-3"], {}, ["--retention-days", "positive"]),
    (["serve", "--workers", "2"], {}, ["--workers", "PostgreSQL"]),
    (["serve", "--drain-timeout", "5"], {}, ["--drain-timeout", "--body-timeout"]),
    (["serve", "--database-url", "mysql://x/y"], {}, ["--database-url", "postgresql://"]),
    (["serve", "--prot", "9000"], {}, ["delivrd serve", "--prot", "--port"]),
    (["db", "status", "--dbb", "x.db"], {}, ["delivrd db status", "--dbb", "--db"]),
    (["db"], {}, ["delivrd db", "status, upgrade, prune"]),
    (["db", "prune", "--retention-days", "x"], {}, ["--retention-days", "'x'"]),
    (["db", "prune"], {}, ["--retention-days"]),
    (["stats", "--by", "colour"], {}, ["--by", "'colour'", "template"]),
    (["stats", "--no-receipt-after", "soon"], {}, ["--no-receipt-after", "72h"]),
    (["stats", "--since", "yesterday"], {}, ["--since", "ISO 8601"]),
    (["export", "things"], {}, ["delivrd export", "reports", "messages"]),
    (["simulate", "--url", "ftp://x/sms/callback"], {}, ["--url", "http://"]),
    (["simulate", "--url", "http://127.0.0.1:9/sms/callback", "--success-ratio", "2"], {}, ["--success-ratio"]),
    (["simulate", "--url", "http://127.0.0.1:9/sms/callback", "--start", "2999-01-01T00:00:00"], {}, ["--start"]),
    (["simulate", "check"], {}, ["delivrd simulate check", "--url"]),
    # variables: the line names the variable, not the flag the person never typed
    (["serve"], {"DELIVRD_PORT": "abc"}, ["DELIVRD_PORT", "'abc'", "1 to 65535"]),
    (["serve"], {"DELIVRD_LOG_LEVEL": "verbose"}, ["DELIVRD_LOG_LEVEL", "'verbose'", "debug"]),
    (["serve"], {"DELIVRD_MAX_BODY_BYTES": "lots"}, ["DELIVRD_MAX_BODY_BYTES", "512k"]),
    (["serve"], {"DELIVRD_WORKERS": "0"}, ["DELIVRD_WORKERS", "positive"]),
    (["serve"], {"DELIVRD_WORKERS": "2"}, ["DELIVRD_WORKERS", "PostgreSQL"]),
    (["serve"], {"DELIVRD_DRAIN_TIMEOUT": "5"}, ["DELIVRD_DRAIN_TIMEOUT", "--body-timeout"]),
    (["serve"], {"DELIVRD_KEEPALIVE_TIMEOUT": "x"}, ["DELIVRD_KEEPALIVE_TIMEOUT", "'x'"]),
    (["serve"], {"DELIVRD_DATABASE_URL": "mysql://x/y"}, ["DELIVRD_DATABASE_URL", "postgresql://"]),
    (["db", "prune"], {"DELIVRD_RETENTION_DAYS": "x"}, ["DELIVRD_RETENTION_DAYS", "'x'"]),
    (["stats"], {"DELIVRD_NO_RECEIPT_AFTER": "soon"}, ["DELIVRD_NO_RECEIPT_AFTER", "72h"]),
    (["export", "reports"], {"DELIVRD_NO_RECEIPT_AFTER": "0"}, ["DELIVRD_NO_RECEIPT_AFTER", "positive"]),
]


@pytest.mark.parametrize(("args", "env", "says"), MISTAKES, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_a_mistake_is_one_line_naming_what_was_set(args, env, says, tmp_path):
    result = delivrd(*args, env=env, cwd=tmp_path)
    line = one_line(result)
    assert result.returncode == 2, line
    for words in says:
        assert words in line, line
    flags = [a for a in args if a.startswith("--")]
    if env and not flags:
        assert "--" + next(iter(env)).removeprefix("DELIVRD_").lower().replace("_", "-") + " " not in line
    assert list(tmp_path.iterdir()) == []  # nothing created on the way to the mistake


def test_a_variable_a_command_does_not_use_is_not_its_business(tmp_path):
    result = delivrd("db", "status", "--db", "typo.db", env={"DELIVRD_PORT": "abc"}, cwd=tmp_path)
    assert "DELIVRD_PORT" not in result.stderr and "no database at typo.db" in result.stderr


def test_an_empty_variable_is_unset(tmp_path):
    result = delivrd("serve", "--help", env={"DELIVRD_PORT": "", "DELIVRD_LOG_LEVEL": ""}, cwd=tmp_path)
    assert result.returncode == 0 and "8080" in result.stdout


def test_an_unwritable_output_file_is_one_line(tmp_path):
    assert delivrd("db", "upgrade", "--db", "d.db", cwd=tmp_path).returncode == 0
    result = delivrd("export", "reports", "--db", "d.db", "-o", "no/such/dir/out.csv", cwd=tmp_path)
    assert result.returncode == 2 and "no/such/dir/out.csv" in one_line(result)


# -- the port --------------------------------------------------------------------------------------


@pytest.fixture
def taken_port():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


@pytest.mark.parametrize("given", ["flag", "variable"])
def test_a_port_in_use_is_one_line_and_creates_nothing(taken_port, tmp_path, given):
    db = tmp_path / "d.db"
    if given == "flag":
        result = delivrd("serve", "--db", str(db), "--port", str(taken_port))
    else:
        result = delivrd("serve", "--db", str(db), env={"DELIVRD_PORT": str(taken_port)})
    line = one_line(result)
    assert result.returncode == 2
    assert f"127.0.0.1:{taken_port} is already in use" in line
    assert ("--port" if given == "flag" else "DELIVRD_PORT") in line
    assert list(tmp_path.iterdir()) == []


def test_an_address_not_of_this_machine_is_one_line(tmp_path):
    result = delivrd("serve", "--db", str(tmp_path / "d.db"), "--host", "192.0.2.1", "--port", "18080")
    line = one_line(result)
    assert result.returncode == 2 and "192.0.2.1" in line and "--host" in line
    assert list(tmp_path.iterdir()) == []


# -- the database --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["db", "status"],
        ["db", "prune", "--retention-days", "3"],
        ["stats"],
        ["export", "reports"],
    ],
)
def test_a_command_that_reads_a_database_does_not_mistake_a_typo_for_an_old_one(args, tmp_path):
    result = delivrd(*args, "--db", "typo.db", cwd=tmp_path)
    assert one_line(result) == "delivrd: no database at typo.db (give --db or DELIVRD_DB)"
    assert result.returncode == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "creates"),
    [
        (["serve"], True),
        (["db", "upgrade"], True),
        (["import", "sends", "f.csv"], True),
        (["reconcile", "--sdk-app-id", "1"], True),
        (["db", "status"], False),
        (["db", "prune"], False),
        (["stats"], False),
        (["export", "reports"], False),
    ],
)
def test_db_help_says_which_command_creates_the_file(args, creates):
    from tests.test_settings import subparser

    path = [a for a in args if not a.startswith("-") and a not in {"sends", "f.csv", "1", "reports"}]
    option = next(a for a in subparser(*path)._actions if a.dest == "db")
    assert ("created if missing" in option.help) is creates, option.help
    if not creates:
        assert "delivrd db upgrade" in option.help
