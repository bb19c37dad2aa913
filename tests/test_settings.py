"""Settings declared once (`delivrd.config`): the defaults, the environment both ways and the options of each
command all come from the same declarations."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from delivrd.cli import main
from delivrd.config import OPTIONS, Settings, flag, variable


@pytest.fixture(autouse=True)
def no_settings_in_the_environment(monkeypatch):
    for name in OPTIONS:
        monkeypatch.delenv(variable(name), raising=False)


def subparser(*path: str) -> argparse.ArgumentParser:
    p = main.parser()
    for name in path:
        action = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
        p = action.choices[name]
    return p


def test_each_default_is_its_declared_text_read_as_a_person_would_write_it():
    settings = Settings()
    assert (settings.max_body_bytes, settings.max_header_bytes, settings.no_receipt_after) == (2**20, 2**16, 72 * 3600)
    assert (settings.body_timeout, settings.port, settings.migrate, settings.retention_days) == (
        10.0,
        8080,
        False,
        None,
    )
    assert [f.name for f in dataclasses.fields(Settings)] == list(OPTIONS)


def test_the_environment_carries_every_setting_to_a_worker_and_back():
    given = Settings(
        port=9,
        database_url="postgresql://x@y/z",
        api_key="k",
        migrate=True,
        retention_days=3,
        max_body_bytes=512,
        body_timeout=2.5,
        no_receipt_after=60,
        log_level="debug",
    )
    env = {name: value for name, value in given.to_env().items() if value is not None}
    assert Settings.from_env(env) == given
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"DELIVRD_PORT": ""}) == Settings()  # an empty variable is unset


def test_the_environment_takes_what_the_flags_take():
    assert Settings.from_env({"DELIVRD_MAX_BODY_BYTES": "2m", "DELIVRD_NO_RECEIPT_AFTER": "3d"}) == Settings(
        max_body_bytes=2 * 2**20, no_receipt_after=3 * 86400
    )


def test_serve_has_an_option_for_every_setting_defaulting_to_its_variable(monkeypatch):
    monkeypatch.setenv("DELIVRD_MAX_BODY_BYTES", "512k")
    monkeypatch.setenv("DELIVRD_API_KEY", "topsecret")
    args = subparser("serve").parse_args([])
    assert {name: getattr(args, name) for name in OPTIONS} == {
        **dataclasses.asdict(Settings()),
        "max_body_bytes": 512 * 1024,
        "api_key": None,  # a secret: read at run time
    }
    options = {a.dest: a for a in subparser("serve")._actions}
    for name, option in OPTIONS.items():
        assert options[name].option_strings == [flag(name)]
        assert (variable(name) in options[name].help) is not option.switch


@pytest.mark.parametrize(
    ("path", "names"),
    [
        (("db", "status"), ("db", "database_url")),
        (("db", "prune"), ("db", "database_url", "retention_days", "inbox_retention_days")),
        (("purge",), ("db", "database_url", "default_country")),
        (("stats",), ("db", "database_url", "no_receipt_after")),
        (("export",), ("db", "database_url", "no_receipt_after")),
        (("import",), ("db", "database_url")),
        (("reconcile",), ("db", "database_url")),
    ],
)
def test_commands_sharing_a_setting_share_its_option(path, names):
    options = {a.dest: a for a in subparser(*path)._actions}
    serve = {a.dest: a for a in subparser("serve")._actions}
    for name in names:
        assert (options[name].option_strings, options[name].type) == (serve[name].option_strings, serve[name].type)
        # the help too, but for whether the command creates a missing database (tests/test_cli_errors.py)
        assert options[name].help == serve[name].help or name == "db"


def test_a_variable_is_read_by_the_command_that_uses_it_and_blamed_by_name(monkeypatch, capsys):
    monkeypatch.setenv("DELIVRD_PORT", "abc")
    assert subparser("db", "status").parse_args([]).db == "delivrd.db"  # db status has no port to read
    with pytest.raises(SystemExit) as exit:
        subparser("serve").parse_args([])
    assert exit.value.code == 2
    assert capsys.readouterr().err == "delivrd serve: DELIVRD_PORT: not a port number: 'abc' (1 to 65535)\n"
    monkeypatch.setenv("DELIVRD_PORT", "9090")
    args = subparser("serve").parse_args([])
    assert args.port == 9090 and args.from_variable == {"port"}


def test_the_environment_of_a_worker_is_checked_as_the_flags_are():
    with pytest.raises(ValueError, match="DELIVRD_LOG_LEVEL: not one of critical, error, warning, info, debug"):
        Settings.from_env({"DELIVRD_LOG_LEVEL": "verbose"})


def test_prune_takes_its_retentions_from_the_environment(monkeypatch):
    """Neither given is refused when the command runs (tests/test_inbox_retention.py), since either will do."""
    assert subparser("db", "prune").parse_args([]).retention_days is None
    monkeypatch.setenv("DELIVRD_RETENTION_DAYS", "7")
    monkeypatch.setenv("DELIVRD_INBOX_RETENTION_DAYS", "2")
    args = subparser("db", "prune").parse_args([])
    assert (args.retention_days, args.inbox_retention_days) == (7, 2)
