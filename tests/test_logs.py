"""Logs: a JSON line for each kind of refused callback, the limit that keeps a flood to a few lines, failing
commits as one line with their count, and uvicorn's lines in the same format."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from delivrd import logs
from delivrd.config import networks
from delivrd.domain import results
from delivrd.domain.push import CALLBACK, Push
from delivrd.store import StoreUnavailable
from delivrd.writer.group_commit import Writer, WriteRefused
from tests.factories import batch, body


@pytest.fixture
def json_lines():
    """What delivrd logs from now on, as parsed JSON lines (read it by calling the fixture)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("delivrd")
    logger.addHandler(handler)
    kept = logger.level
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.setLevel(kept)


def test_every_kind_of_refused_callback_is_a_json_line(start_app, json_lines):
    app = start_app(callback_token="t", callback_allow=networks("127.0.0.0/8"), max_body_bytes=1000)
    client = app.client
    ok = {"token": "t"}
    assert client.post("/sms/callback", params={"token": "x"}, content=body(batch(0, 1))).status_code == 401
    assert client.post("/sms/callback", params=ok, content=b"not json").status_code == 400
    assert client.post("/sms/callback", params=ok, content=b"[" + b" " * 2000 + b"]").status_code == 413
    assert client.get("/sms/reply", params=ok).status_code == 405

    async def refuse(push: Push) -> None:
        raise WriteRefused(results.QUEUE_FULL, "write queue is full")

    app.asgi.writer.submit = refuse  # type: ignore[method-assign]
    assert client.post("/sms/callback", params=ok, content=body(batch(0, 1))).status_code == 503
    del app.asgi.writer.submit
    app.asgi.callbacks["/sms/callback"].allowed = lambda address: False
    assert client.post("/sms/callback", params=ok, content=body(batch(0, 1))).status_code == 403

    refused = [line for line in json_lines() if line["message"].startswith("refused ")]
    got = [(line["status"], line["result"], line["route"], line["peer"], line["level"]) for line in refused]
    assert got == [
        (401, 1004, "/sms/callback", "127.0.0.1", "warning"),
        (400, 1001, "/sms/callback", "127.0.0.1", "warning"),
        (413, 1003, "/sms/callback", "127.0.0.1", "warning"),
        (405, 1005, "/sms/reply", "127.0.0.1", "warning"),
        (503, 2001, "/sms/callback", "127.0.0.1", "warning"),
        (403, 1013, "/sms/callback", "127.0.0.1", "warning"),
    ]
    assert refused[0]["reason"] == "the ?token= given is not the one configured (--callback-token)"
    assert all(line["logger"] == "delivrd.wire.callbacks" and line["time"].endswith("+00:00") for line in refused)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_is_a_few_lines_then_the_count_of_the_rest(json_lines):
    clock = Clock()
    limited = logs.Limited(logging.getLogger("delivrd.test"), lines=3, window=10.0, clock=clock)
    for _ in range(1000):
        limited.log("401 on /sms/callback", logging.WARNING, "refused", peer="198.51.100.1")
    limited.log("400 on /sms/callback", logging.WARNING, "refused", peer="198.51.100.2")  # a key of its own
    clock.now = 11.0
    limited.log("401 on /sms/callback", logging.WARNING, "refused", peer="198.51.100.1")  # a new window
    lines = json_lines()
    assert [line["message"] for line in lines] == [
        "refused",
        "refused",
        "refused",
        "refused",
        "997 more like this left out in 10s: 401 on /sms/callback",
        "refused",
    ]
    assert lines[4]["left_out"] == 997 and lines[4]["peer"] == "198.51.100.1"


def test_the_count_left_out_is_told_when_the_window_ends_even_if_nothing_follows(json_lines):
    async def flood() -> None:
        limited = logs.Limited(logging.getLogger("delivrd.test"), lines=1, window=0.05)
        for _ in range(10):
            limited.log("k", logging.WARNING, "refused")
        await asyncio.sleep(0.2)

    asyncio.run(flood())
    assert [line["message"] for line in json_lines()] == ["refused", "9 more like this left out in 0.05s: k"]


class DownStore:
    """A store whose storage is unreachable until `up`."""

    up = False

    async def write(self, pushes: list[Push]) -> None:
        if not self.up:
            raise StoreUnavailable("connection refused")


def test_failing_commits_are_one_line_with_their_count_not_a_traceback_each(json_lines):
    async def outage() -> None:
        store = DownStore()
        writer = Writer(store)  # type: ignore[arg-type]
        writer.start()
        for _ in range(50):
            with pytest.raises(WriteRefused):
                await writer.submit(Push(CALLBACK, 0, None, 200, "stored", 1, b"[]"))
        store.up = True
        await writer.submit(Push(CALLBACK, 0, None, 200, "stored", 1, b"[]"))
        await writer.close()

    asyncio.run(outage())
    lines = json_lines()
    assert [line["message"] for line in lines] == [
        "commit of 1 push(es) failed (1 in a row): connection refused",
        "49 more like this left out in 10s: commits failing",
        "commits succeed again, after 50 failed in a row",
    ]
    assert lines[1]["failures"] == 50 and not any("exception" in line for line in lines)


def test_uvicorns_lines_take_delivrds_format(capsys):
    root = logging.getLogger()
    kept = root.handlers[:], root.level
    try:
        logs.configure("info", "json")
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 1, extra={"color_message": "x"})
        logging.getLogger("uvicorn.access").info('1.2.3.4 - "POST /sms/callback?token=secret" 401')  # stays off
        logging.getLogger("delivrd.app").warning("hello")
    finally:
        root.handlers[:], root.level = kept
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("uvicorn.error", "Started server process [1]"),
        ("delivrd.app", "hello"),
    ]
    assert "color_message" not in lines[0]
