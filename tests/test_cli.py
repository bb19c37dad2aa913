"""The `delivrd` command: help that explains, one-line errors, secrets kept out of --help."""

import subprocess
import sys


def delivrd(*args, env=None):
    import os

    return subprocess.run(
        [sys.executable, "-m", "delivrd", *args], capture_output=True, text=True, env={**os.environ, **(env or {})},
        timeout=30,
    )  # fmt: skip


def test_help_lists_commands_and_serve_explains_every_option():
    assert "serve" in delivrd("--help").stdout
    help_text = delivrd("serve", "--help").stdout
    for option, variable in [("--host", "DELIVRD_HOST"), ("--port", "DELIVRD_PORT"), ("--db", "DELIVRD_DB"),
                             ("--callback-token", "DELIVRD_CALLBACK_TOKEN"), ("--api-key", "DELIVRD_API_KEY"),
                             ("--max-body-bytes", "DELIVRD_MAX_BODY_BYTES"),
                             ("--database-url", "DELIVRD_DATABASE_URL"), ("--workers", "DELIVRD_WORKERS"),
                             ("--retention-days", "DELIVRD_RETENTION_DAYS")]:  # fmt: skip
        assert option in help_text and variable in help_text


def test_secrets_from_the_environment_are_not_printed_by_help():
    help_text = delivrd("serve", "--help", env={"DELIVRD_API_KEY": "topsecret", "DELIVRD_CALLBACK_TOKEN": "t0k"}).stdout
    assert "topsecret" not in help_text and "t0k" not in help_text


def test_unusable_database_is_one_clear_line():
    result = delivrd("serve", "--db", "/no/such/dir/d.db")
    assert result.returncode == 2
    assert result.stderr.strip() == "delivrd: cannot open SQLite database /no/such/dir/d.db: unable to open database file"


def test_bad_size_is_a_usage_error():
    result = delivrd("serve", "--max-body-bytes", "lots")
    assert result.returncode == 2 and "not a size in bytes" in result.stderr
