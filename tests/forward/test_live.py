"""`GET /v1/events` (Server-Sent Events) in process on both backends: events posted after connecting arrive,
a stream resumed from an event's id gets what followed it, none lost and none twice, and `types` filters.

httpx's ASGITransport answers only once the app has ended its response, so a stream is driven here over ASGI
directly (`Sse`), its body read as the app sends it."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest

from delivrd.forward import live
from tests.factories import body, report
from tests.servers import InProcessApp

ACK = {"result": 0, "errmsg": "OK"}
#: how long a test waits for what it expects before failing (a guard against hanging, not a measurement)
PATIENCE = 30.0
REPLY = {"extend": "", "mobile": "13800138000", "nationcode": "86", "sign": "s", "text": "thanks", "time": 1700000000}


class Sse:
    """One GET /v1/events over ASGI on the app's loop, its messages parsed as an EventSource would."""

    def __init__(self, app: InProcessApp, query: str = "", headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.query = query
        self.headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.left = asyncio.Event()
        self.buffer = b""
        self.status: int | None = None
        self.response_headers: dict[str, str] = {}

    async def __aenter__(self) -> Sse:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/v1/events",
            "raw_path": b"/v1/events",
            "query_string": self.query.encode(),
            "root_path": "",
            "headers": [(b"host", b"delivrd"), *self.headers],
            "client": ("127.0.0.1", 50000),
            "server": ("delivrd", 80),
            "state": {},
        }
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self.left.wait()
            return {"type": "http.disconnect"}

        self.task = asyncio.get_running_loop().create_task(self.app.asgi(scope, receive, self.sent.put))
        start = await asyncio.wait_for(self.sent.get(), PATIENCE)
        self.status = start["status"]
        self.response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.left.set()  # the client goes
        await asyncio.wait_for(self.task, PATIENCE)

    async def message(self) -> dict[str, str]:
        """The next message (comments skipped): its fields."""
        while True:
            while b"\n\n" not in self.buffer:
                sent = await asyncio.wait_for(self.sent.get(), PATIENCE)
                assert sent["type"] == "http.response.body" and sent.get("more_body"), f"the stream ended: {sent}"
                self.buffer += sent["body"]
            block, self.buffer = self.buffer.split(b"\n\n", 1)
            fields: dict[str, str] = {}
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value
            if fields:
                return fields

    async def event(self) -> dict[str, Any]:
        """The next event: its SSE id and type, and the event it carries."""
        fields = await self.message()
        assert set(fields) == {"id", "event", "data"}, fields
        data = json.loads(fields["data"])
        assert data["type"] == fields["event"]
        return {"sse_id": fields["id"], **data}


async def push(client: httpx.AsyncClient, items: Any, path: str = "/sms/callback") -> None:
    answer = await client.post(path, content=body(items))
    assert answer.json() == ACK


def test_events_posted_after_connecting_arrive_as_the_read_api_shows_them(app):
    async def scenario() -> list[dict[str, Any]]:
        async with app.async_client() as client, Sse(app) as stream:
            assert stream.status == 200
            assert stream.response_headers["content-type"].startswith("text/event-stream")
            opening = await stream.message()  # where it starts: what a client resumes from before any event
            assert set(opening) == {"retry", "id"} and re.fullmatch(r"\d+-\d+", opening["id"])
            await push(client, [report(1), report(2, report_status="FAIL", errmsg="MK:0001")])
            await push(client, REPLY, path="/sms/reply")
            return [await stream.event() for _ in range(3)]

    delivered, failed, reply = app.run(scenario)
    reports = {r["sid"]: r for r in app.client.get("/v1/reports").json()["items"]}
    assert (delivered["type"], failed["type"], reply["type"]) == ("report.delivered", "report.failed", "reply.received")
    assert delivered["data"] == {**reports[report(1)["sid"]], "category": "delivered"}
    assert failed["data"]["sid"] == report(2)["sid"] and failed["data"]["category"] is not None
    [stored_reply] = app.client.get("/v1/replies").json()["items"]
    assert reply["data"] == stored_reply
    ids = [e["id"] for e in (delivered, failed, reply)]
    assert len(set(ids)) == 3 and all(i.startswith("evt_") for i in ids)
    positions = [tuple(map(int, e["sse_id"].split("-"))) for e in (delivered, failed, reply)]
    assert positions == sorted(positions) and len(set(positions)) == 3


def test_a_stream_resumed_from_an_id_gets_what_followed_none_lost_none_twice(app):
    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        async with app.async_client() as client:
            async with Sse(app) as first:
                await first.message()
                await push(client, [report(n) for n in range(1, 4)])
                seen = [await first.event() for _ in range(3)]
            await push(client, [report(n) for n in range(4, 6)])  # while nobody listens
            async with Sse(app, headers={"Last-Event-ID": seen[1]["sse_id"]}) as again:
                await again.message()
                resumed = [await again.event() for _ in range(3)]
                await push(client, [report(6)])
                resumed.append(await again.event())
            # a client that cannot set headers names the position in the query; the header, when sent, wins
            query = f"last_event_id={seen[0]['sse_id']}"
            async with Sse(app, query=query, headers={"Last-Event-ID": seen[2]["sse_id"]}) as third:
                await third.message()
                by_header = [await third.event() for _ in range(3)]
        return seen, resumed, by_header

    seen, resumed, by_header = app.run(scenario)
    sids = [report(n)["sid"] for n in range(1, 7)]
    assert [e["data"]["sid"] for e in seen] == sids[:3]
    assert [e["data"]["sid"] for e in resumed] == sids[2:6]
    assert resumed[0]["id"] == seen[2]["id"] and resumed[0]["sse_id"] == seen[2]["sse_id"]  # the same event
    assert [e["data"]["sid"] for e in by_header] == sids[3:6]


def test_types_filters_the_events_sent(app):
    async def scenario() -> list[dict[str, Any]]:
        async with app.async_client() as client, Sse(app, query="types=report.failed,reply.received") as stream:
            await stream.message()
            await push(client, [report(1), report(2, report_status="FAIL", errmsg="MK:0001"), report(3)])
            await push(client, REPLY, path="/sms/reply")
            await push(client, [report(4, report_status="FAIL", errmsg="MK:0024")])
            return [await stream.event() for _ in range(3)]

    got = app.run(scenario)
    assert [e["type"] for e in got] == ["report.failed", "reply.received", "report.failed"]
    assert [e["data"].get("sid") for e in got] == [report(2)["sid"], None, report(4)["sid"]]


def test_opt_out_changes_are_events_too(app):
    async def scenario() -> list[dict[str, Any]]:
        async with app.async_client() as client, Sse(app, query="types=optout.added,optout.removed") as stream:
            await stream.message()
            await push(client, [report(1)])  # not asked for
            added = await client.post("/v1/optouts", json={"phone": "+8613800138000", "note": "asked by phone"})
            assert added.status_code == 201, added.text
            assert (await client.delete("/v1/optouts/+8613800138000")).status_code == 200
            return [await stream.event() for _ in range(2)]

    added, removed = app.run(scenario)
    changes = app.client.get("/v1/optouts/changes").json()["items"]  # newest first
    assert (added["type"], removed["type"]) == ("optout.added", "optout.removed")
    assert [added["data"], removed["data"]] == changes[::-1]


def test_a_stream_far_behind_reads_its_pages_from_the_store(app, monkeypatch):
    """Resumed from before what the poller keeps, a stream reads the store page by page until it has caught up."""
    monkeypatch.setattr(live, "PAGE", 2)
    monkeypatch.setattr(live, "RECENT", 1)

    async def scenario() -> list[dict[str, Any]]:
        async with app.async_client() as client, Sse(app) as stream:
            start = (await stream.message())["id"]
            await push(client, [report(n) for n in range(1, 8)])
            await push(client, [report(n) for n in range(8, 12)])
            [await stream.event() for _ in range(11)]  # the poller has gone past them all
            async with Sse(app, headers={"Last-Event-ID": start}) as behind:
                await behind.message()
                return [await behind.event() for _ in range(11)]

    assert [e["data"]["sid"] for e in app.run(scenario)] == [report(n)["sid"] for n in range(1, 12)]


def test_streams_beyond_the_cap_are_refused_in_json(app, monkeypatch):
    monkeypatch.setattr(live, "MAX_STREAMS", 1)

    async def scenario() -> tuple[int | None, int | None, bytes]:
        async with Sse(app) as first, Sse(app) as second:
            refusal = await asyncio.wait_for(second.sent.get(), PATIENCE)
            return first.status, second.status, refusal["body"]

    first, second, refusal = app.run(scenario)
    assert (first, second) == (200, 503)
    assert json.loads(refusal)["result"] == 2007
    assert app.asgi.live.streams == set()  # the client gone, its stream is no longer counted

    async def again() -> int | None:
        async with Sse(app) as third:
            return third.status

    assert app.run(again) == 200


@pytest.mark.parametrize(
    ("query", "headers", "named"),
    [
        ("types=report.sent", {}, "types"),
        ("types=", {}, "types"),
        ("last_event_id=12", {}, "last_event_id"),
        ("", {"Last-Event-ID": "evt_12"}, "Last-Event-ID"),
        ("", {"Last-Event-ID": "1-99999999999999999999"}, "Last-Event-ID"),
        ("since=2026-01-01", {}, "since"),
    ],
)
def test_bad_parameters_are_json_400s(http_client, query, headers, named):
    answer = http_client.get(f"/v1/events?{query}", headers=headers)
    assert answer.status_code == 400 and answer.json()["result"] == 1007
    assert named in answer.json()["errmsg"]


def test_the_stream_asks_for_the_api_key(start_http_app):
    client = start_http_app(api_key="k3y").client
    answer = client.get("/v1/events")
    assert answer.status_code == 401 and answer.json()["result"] == 1008
