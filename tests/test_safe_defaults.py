"""Safe by default: no read API open to the network without a key, refused callbacks neither stored nor
remembered, an allowlist of callback sources that holds behind a proxy, secrets out of `ps`."""

from __future__ import annotations

import gc
import json
import logging
import os
import tracemalloc

import httpx
import pytest

from delivrd.cli.main import main
from delivrd.config import OPTIONS, networks, variable
from delivrd.wire import serving
from tests.factories import batch, body
from tests.servers import IN_PROCESS_URL, free_port

ACK = {"result": 0, "errmsg": "OK"}


@pytest.fixture
def served(monkeypatch):
    """`delivrd serve` up to the server: the settings it would serve with, instead of serving."""
    for name in OPTIONS:
        monkeypatch.delenv(variable(name), raising=False)
    root = logging.getLogger()
    kept = root.handlers[:], root.level
    got = []
    monkeypatch.setattr(serving, "run", got.append)
    served_environ.clear()
    yield got
    root.handlers[:], root.level = kept  # `serve` configured logging for the process


#: the environment each `serve` left for its workers
served_environ: list[dict[str, str]] = []


def serve(tmp_path, *args: str) -> int:
    """`delivrd serve` on a database of its own (the process holds each file's serving lock until it ends)."""
    port = free_port()
    environ = dict(os.environ)
    try:
        return main(["serve", "--db", str(tmp_path / f"{port}.db"), "--port", str(port), *args])
    finally:
        served_environ.append(dict(os.environ))
        os.environ.clear()  # `serve` hands its settings to the workers in the environment
        os.environ.update(environ)


def test_a_network_address_without_an_api_key_is_refused_in_one_line(tmp_path, served, capsys):
    assert serve(tmp_path, "--host", "0.0.0.0") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("delivrd: --host 0.0.0.0 is reachable from the network")
    assert "--api-key-file" in err and "--open-read-api" in err
    assert served == [] and not list(tmp_path.glob("*.db"))


def test_loopback_a_key_or_the_opt_out_serve(tmp_path, served):
    assert serve(tmp_path) == 0  # 127.0.0.1
    assert serve(tmp_path, "--host", "localhost") == 0
    assert serve(tmp_path, "--host", "::1") == 0
    assert serve(tmp_path, "--host", "0.0.0.0", "--api-key", "k") == 0
    assert serve(tmp_path, "--host", "0.0.0.0", "--open-read-api") == 0
    assert [s.host for s in served] == ["127.0.0.1", "localhost", "::1", "0.0.0.0", "0.0.0.0"]
    assert served[-1].open_read_api and served[-1].api_key is None


def test_secrets_are_read_from_files_and_reach_the_workers_as_variables(tmp_path, served, monkeypatch):
    (tmp_path / "key").write_text("the-key\n")
    (tmp_path / "token").write_text("the-token\r\n")
    monkeypatch.setenv("DELIVRD_CALLBACK_TOKEN_FILE", str(tmp_path / "token"))
    assert serve(tmp_path, "--host", "0.0.0.0", "--api-key-file", str(tmp_path / "key")) == 0
    settings = served[0]
    assert (settings.api_key, settings.callback_token) == ("the-key", "the-token")
    assert (settings.api_key_file, settings.callback_token_file) == (None, None)
    workers = served_environ[0]
    assert workers["DELIVRD_API_KEY"] == "the-key" and "DELIVRD_API_KEY_FILE" not in workers
    assert workers["DELIVRD_CALLBACK_TOKEN"] == "the-token" and "DELIVRD_CALLBACK_TOKEN_FILE" not in workers


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--api-key", "k", "--api-key-file", "F"], {}, "--api-key and --api-key-file both give the api key: keep one"),
        (
            ["--callback-token-file", "F"],
            {"DELIVRD_CALLBACK_TOKEN": "t"},
            "DELIVRD_CALLBACK_TOKEN and --callback-token-file both give the callback token: keep one",
        ),
        (["--api-key-file", "missing"], {}, "cannot read --api-key-file"),
        (["--api-key-file", "empty"], {}, "is empty"),
    ],
)
def test_a_secret_given_twice_or_unreadable_is_one_line(tmp_path, served, capsys, monkeypatch, args, env, said):
    (tmp_path / "F").write_text("x")
    (tmp_path / "empty").write_text("\n")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = [str(tmp_path / a) if a in ("F", "missing", "empty") else a for a in args]
    assert serve(tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err, err
    assert served == []


def test_the_startup_line_names_storage_address_and_what_guards_it(tmp_path, served, capsys):
    key = tmp_path / "key"
    key.write_text("k\n")
    args = ["--host", "0.0.0.0", "--api-key-file", str(key), "--callback-allow", "203.0.113.0/24", "--log-format"]
    assert serve(tmp_path, *args, "json") == 0
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    start = next(line for line in lines if line["message"].startswith("serving http://0.0.0.0:"))
    assert start["storage"] == f"SQLite {tmp_path / f'{served[0].port}.db'}" and start["schema_version"] >= 1
    assert (start["callback_token"], start["api_key"], start["callback_allow"]) == (False, True, "203.0.113.0/24")
    assert "k\n" not in json.dumps(lines)


def test_the_startup_line_names_postgresql_without_its_password(tmp_path, served, capsys, monkeypatch):
    from delivrd.cli import serve as serve_command

    async def schema(settings):
        return 3

    monkeypatch.setattr(serve_command, "_check_store", schema)
    url = "postgresql://delivrd:pa55word@db.internal:5433/prod"
    assert serve(tmp_path, "--database-url", url) == 0
    err = capsys.readouterr().err
    assert "PostgreSQL delivrd@db.internal:5433/prod, schema version 3" in err and "pa55word" not in err


@pytest.mark.backends("sqlite")  # refused before anything reaches the store: one backend says it
def test_ten_thousand_wrong_tokens_leave_the_inbox_and_the_memory_as_they_were(start_app):
    app = start_app(callback_token="right")
    assert app.client.post("/sms/callback", params={"token": "right"}, content=body(batch(0, 1))).json() == ACK
    inbox_before = app.client.get("/v1/activity").json()["inbox"]
    payload = body(batch(0, 1))

    async def flood(n: int) -> None:
        async with app.async_client() as client:
            for i in range(n):
                answer = await client.post("/sms/callback", params={"token": f"wrong{i}"}, content=payload)
                assert answer.status_code == 401

    app.run(lambda: flood(500))  # warm: caches, the log limit's window
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.take_snapshot()
        app.run(lambda: flood(10_000))
        gc.collect()  # what is garbage is not kept, even if not yet collected
        growth = tracemalloc.take_snapshot().compare_to(before, "lineno")
    finally:
        tracemalloc.stop()
    # what a request would keep is many small blocks; one block grown once (a table resized, the interned
    # strings') is not the requests'
    kept = sum(stat.size_diff for stat in growth if stat.count_diff > 1)
    activity = app.client.get("/v1/activity").json()
    assert activity["inbox"] == inbox_before
    assert activity["refused_callbacks"] == 10_500
    assert kept < 1024 * 1024, f"{kept} bytes more after 10,000 refused requests"  # < 100 bytes each


def asgi_client(app, peer: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app.asgi, client=(peer, 4321)), base_url=IN_PROCESS_URL)


def test_the_allowlist_refuses_other_sources_also_behind_a_proxy(start_app):
    app = start_app(callback_allow=networks("203.0.113.0/24"), trusted_proxies=networks("10.0.0.5"))
    asks = [
        # (connection's peer, X-Forwarded-For, expected status)
        ("203.0.113.7", None, 200),
        ("198.51.100.1", None, 403),
        ("10.0.0.5", "203.0.113.8", 200),  # through the trusted proxy
        ("10.0.0.5", "198.51.100.1", 403),
        ("10.0.0.5", "203.0.113.9, 198.51.100.1", 403),  # the client wrote the left part: not believed
        ("198.51.100.1", "203.0.113.9", 403),  # X-Forwarded-For from an untrusted peer is ignored
        ("10.0.0.5", None, 403),  # the proxy itself is not a callback source
    ]

    async def ask() -> list[tuple[int, dict]]:
        answers = []
        for n, (peer, forwarded, _) in enumerate(asks):
            headers = {"x-forwarded-for": forwarded} if forwarded else {}
            async with asgi_client(app, peer) as client:
                answer = await client.post("/sms/callback", content=body(batch(n * 10, 1)), headers=headers)
            answers.append((answer.status_code, answer.json()))
        return answers

    answers = app.run(ask)
    assert [status for status, _ in answers] == [expected for *_, expected in asks]
    assert answers[1][1] == {
        "result": 1013,
        "errmsg": "198.51.100.1 is not among the addresses allowed to call back (--callback-allow)",
    }
    inbox = app.client.get("/v1/inbox").json()["items"]
    assert sorted(entry["peer"] for entry in inbox) == ["203.0.113.7", "203.0.113.8"]  # the 403s are not stored
    assert app.asgi.refused_callbacks() == 5


def test_without_a_trusted_proxy_the_peer_is_the_connection(start_app):
    app = start_app(trusted_proxies=networks("none"))

    async def ask() -> int:
        async with asgi_client(app, "127.0.0.1") as client:
            answer = await client.post(
                "/sms/callback", content=body(batch(0, 1)), headers={"x-forwarded-for": "203.0.113.7"}
            )
        return answer.status_code

    assert app.run(ask) == 200
    assert app.client.get("/v1/inbox").json()["items"][0]["peer"] == "127.0.0.1"


def test_with_an_api_key_health_metrics_and_the_api_description_stay_open(start_http_app):
    client = start_http_app(api_key="s3cret").client
    for path in ("/healthz", "/metrics", "/openapi.json", "/"):
        assert client.get(path).status_code == 200, path
    for path in ("/v1/reports", "/v1/inbox", "/v1/activity", "/v1/phones/13800138000"):
        assert client.get(path).json()["result"] == 1008, path
