"""The read API is strict: every client mistake is a JSON 400 (result 1007) on both backends, never a 500 or 503,
and a failure that is not the client's is still a JSON answer. /healthz tells the truth about a PostgreSQL that
stopped answering (and about failing commits: test_durability). All in process: none of it is the HTTP server's
doing."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from delivrd.domain import results
from delivrd.openapi import document
from delivrd.query.http import CURSOR_PATTERN, DEFAULT_LIMIT, MAX_CURSOR, MAX_LIMIT, MIN_LIMIT, TEXT_PATTERN, endpoint
from delivrd.query.stats import GROUPS
from delivrd.writer.group_commit import Writer
from tests.databases import POSTGRES_URL
from tests.factories import batch, body
from tests.servers import InProcessApp

ACK = {"result": 0, "errmsg": "OK"}

#: bad values of the parameters most routes take, as raw query strings (sent unencoded by httpx's `url`)
BAD_WINDOW = [
    "since=0001-01-01T00:00:00%2B23:59",  # year 0 in UTC: was an OverflowError, a bare 500
    "until=9999-12-31T23:59:59-23:59",  # year 10000 in UTC
    "since=0001-01-01",  # not showable in every offset (storable.FIRST_MICRO is a day later)
    "since=last%20tuesday",
    "since=",  # given, and empty: not a time
    "since=%C2%B2",
    "until=2026-11-24%00",
    "since=2026-11-25&until=2026-11-24",  # since after until: one rule on every route
    "since=2026-11-24T08:00:00%2B08:00&until=2026-11-24T00:00:00Z",  # the same instant
]
BAD_PAGING = [
    "limit=%C2%B2",  # '²': a digit to str.isdigit, not to int()
    "limit=",
    "limit=%D9%A3",  # '٣' (Arabic-Indic three): int() takes it, the API does not
    f"limit={MIN_LIMIT - 1}",
    f"limit={MAX_LIMIT + 1}",
    "limit=-1",
    "limit=%2B5",
    "limit=1e2",
    "limit=007",  # no leading zero: an integer's text, as the OpenAPI document has it
    "limit=%205",
    "limit=" + "9" * 5000,  # more digits than int() converts
    "cursor=%C2%B2",
    "cursor=",
    "cursor=0",
    f"cursor={MAX_CURSOR + 1}",  # bigint overflow: was a 503 "read failed" on PostgreSQL
    "cursor=99999999999999999999999",
    "cursor=" + "9" * 5000,
    "cursor=-5",
    "cursor=abc",
]
#: route → its own bad queries; each route also gets the shared tables that apply to it
ROUTES = {
    "/v1/reports": [
        "sid=%00",
        "mobile=13800%0000000",
        "nationcode=%00",
        "report_status=%00",
        "report_status=success",  # the stored values are Tencent's, exactly: SUCCESS and FAIL
        "report_status=",
        "errmsg=%00",
        "sids=1",
        *BAD_WINDOW,
        *BAD_PAGING,
    ],
    "/v1/rejects": ["route=%00", "route=/sms/callback", "route=foo", "route=", "reason=x", *BAD_WINDOW, *BAD_PAGING],
    "/v1/replies": ["mobile=%00", *BAD_WINDOW, *BAD_PAGING],
    "/v1/inbox": [
        "route=callback%00",
        "route=/sms/reply",
        "outcome=%00",
        "outcome=foo",
        "outcome=STORED",
        "outcome=",
        *BAD_WINDOW,
        *BAD_PAGING,
    ],
    "/v1/messages/2019:5388840000000000001": ["limit=10", "sid=x", "since=2026-11-24"],
    "/v1/phones/%2B8613800138000": ["limit=10", "cursor=1", *BAD_WINDOW],
    "/v1/stats": ["by=week", "by=DAY", "by=%00", "by=", "limit=10", *BAD_WINDOW],
    "/v1/receipt-codes": ["code=%00", "code=DELIVRD%00", "limit=1", "until=2026-11-24"],
    "/v1/activity": ["limit=1", "x="],
}
#: NUL in a path parameter: PostgreSQL text cannot hold it, so it is the client's mistake, not an outage
BAD_PATHS = ["/v1/messages/%00", "/v1/messages/2019%00:1", "/v1/phones/%00", "/v1/phones/%2B86138%0000138000"]


def bad_answers(client: httpx.Client, urls: list[str]) -> list[str]:
    """The URLs not answered 400 JSON with result 1007, each with what came instead."""
    wrong = []
    for url in urls:
        answer = client.get(url)
        is_json = answer.headers.get("content-type") == "application/json"
        if answer.status_code != 400 or not is_json or answer.json().get("result") != results.BAD_PARAMETER:
            wrong.append(f"{url}: {answer.status_code} {answer.headers.get('content-type')} {answer.text[:200]}")
    return wrong


@pytest.mark.parametrize("route", ROUTES)
def test_every_client_mistake_is_a_json_400(client, route):
    urls = [f"{route}?{query}" for query in ROUTES[route]]
    if route.startswith("/v1/reports"):
        client.post("/sms/callback", content=body(batch(0, 3)))  # a store with rows in it, too
    assert bad_answers(client, urls) == []


def test_nul_in_a_path_parameter_is_a_json_400(client):
    assert bad_answers(client, BAD_PATHS) == []


def test_the_edges_of_every_range_are_accepted(client):
    client.post("/sms/callback", content=body(batch(0, 3)))
    first, last = "0001-01-02T00:00:00Z", "9999-12-30T23:59:59.999999Z"
    for url, params in (
        ("/v1/reports", {"limit": MIN_LIMIT, "cursor": MAX_CURSOR, "since": first, "until": last}),
        ("/v1/reports", {"limit": MAX_LIMIT, "cursor": 1}),
        ("/v1/stats", {"since": first, "until": last, "by": "day"}),
        ("/v1/phones/+8613800000001", {"since": "2026-11-24T08:00:00+08:00", "until": last}),
        ("/v1/reports", {"sid": "", "mobile": ""}),  # an empty text filter filters nothing
    ):
        answer = client.get(url, params=params)
        assert answer.status_code == 200, (url, params, answer.text)
    assert len(client.get("/v1/reports", params={"cursor": MAX_CURSOR}).json()["items"]) == 3
    assert client.get("/v1/stats", params={"since": first}).json()["since"] == "0001-01-02T00:00:00.000000Z"


@pytest.mark.parametrize(
    "query, errmsg",
    [
        ("limit=%C2%B2", f"limit must be a whole number from {MIN_LIMIT} to {MAX_LIMIT}; got '²'"),
        ("since=2026-11-25&until=2026-11-24", "since must be before until"),
        ("sid=a%00", "sid contains a NUL character (\\u0000), which no stored text can hold"),
        ("report_status=success", "report_status must be one of SUCCESS, FAIL; got 'success'"),
    ],
)
def test_the_message_says_what_to_fix(http_client, query, errmsg):
    assert http_client.get(f"/v1/reports?{query}").json() == {"result": results.BAD_PARAMETER, "errmsg": errmsg}


def test_a_405_says_which_methods_the_route_takes(http_client):
    for method, path, allow in (
        ("POST", "/v1/reports", "GET, HEAD"),
        ("DELETE", "/v1/messages/x", "GET, HEAD"),
        ("GET", "/v1/messages", "POST"),
        ("PUT", "/healthz", "GET, HEAD"),
    ):
        answer = http_client.request(method, path)
        allowed = set(answer.headers.get("allow", "").split(", "))  # Starlette's order varies from run to run
        assert (answer.status_code, allowed) == (405, set(allow.split(", "))), (method, path)
        assert answer.json()["result"] == results.METHOD_NOT_ALLOWED


def test_an_unexpected_error_is_a_logged_json_500(caplog):
    """Not reachable from outside by design, so in process: a handler that fails as a bug would."""

    async def broken(request, store):
        raise ZeroDivisionError("a bug")

    app = Starlette(routes=[Route("/v1/broken", endpoint(broken, None))])
    app.state.store = None

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://delivrd") as client:
            return await client.get("/v1/broken")

    with caplog.at_level(logging.ERROR, "delivrd.query.http"):
        answer = asyncio.run(get())
    assert answer.status_code == 500 and answer.headers["content-type"] == "application/json"
    assert answer.json()["result"] == results.INTERNAL
    assert "ZeroDivisionError: a bug" in caplog.text and "Traceback" in caplog.text


def test_the_openapi_document_states_the_rules_the_code_checks():
    spec = document()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/v1/reports"]["get"]["parameters"]}
    assert params["limit"] == {"type": "integer", "minimum": MIN_LIMIT, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
    assert params["cursor"]["pattern"] == CURSOR_PATTERN
    assert params["sid"]["pattern"] == TEXT_PATTERN and re.fullmatch(TEXT_PATTERN, "a\x00b") is None
    assert params["since"]["format"] == params["until"]["format"] == "date-time"
    stats = {p["name"]: p["schema"] for p in spec["paths"]["/v1/stats"]["get"]["parameters"]}
    assert stats["by"]["enum"] == list(GROUPS)
    for path in ("/v1/reports", "/v1/stats", "/v1/messages/{sid}"):
        assert {"400", "500"} <= set(spec["paths"][path]["get"]["responses"])


#: a value no enumerated parameter takes, and any text parameter does
NOT_A_CHOICE = "zz-none"


def test_the_openapi_document_describes_exactly_which_values_are_accepted(http_client):
    """Schemathesis' question, asked of every query parameter of every GET route: each value of an `enum` is
    accepted, any other is a 400 that lists them all; a parameter with no `enum` takes any text. A filter that
    matched nothing in silence (route=/sms/callback) or a check the document does not state fails here."""
    wrong, checked = [], 0
    for path, item in document()["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        url = re.sub(r"\{\w+\}", "+8613800138000", path)  # a path parameter any route takes
        for param in operation.get("parameters", []):
            name, schema = param["name"], param["schema"]
            if param["in"] != "query":
                continue
            if "enum" in schema:
                checked += 1
                for value in schema["enum"]:
                    answer = http_client.get(url, params={name: value})
                    if answer.status_code != 200:
                        wrong.append(f"{path}?{name}={value}: {answer.status_code} {answer.text[:200]}")
                answer = http_client.get(url, params={name: NOT_A_CHOICE})
                errmsg = answer.json().get("errmsg", "") if answer.status_code == 400 else ""
                if not all(str(value) in errmsg for value in schema["enum"]):
                    wrong.append(f"{path}?{name}={NOT_A_CHOICE}: {answer.status_code} {answer.text[:200]}")
            elif schema == {"type": "string", "pattern": TEXT_PATTERN}:
                answer = http_client.get(url, params={name: NOT_A_CHOICE})
                if answer.status_code != 200:
                    wrong.append(f"{path}?{name}={NOT_A_CHOICE} (any text): {answer.status_code} {answer.text[:200]}")
    assert wrong == []
    assert checked >= 5  # by, report_status, two routes, outcome


class SilentProxy:
    """A TCP proxy on 127.0.0.1 in front of PostgreSQL that can go silent, as a broken network does: it then
    forwards nothing either way and answers nothing, but keeps every connection open and accepts new ones."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.silent = False
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def url(self, database_url: str) -> str:
        """`database_url` through the proxy."""
        parts = urlsplit(database_url)
        netloc = parts.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            if not self.silent:  # dropped: neither forwarded nor refused, the connection stays open
                writer.write(data)
                await writer.drain()
        writer.close()  # one side hung up: so does the other

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            rest = asyncio.all_tasks() - {asyncio.current_task()}
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@contextmanager
def elapsed(limit: float) -> Iterator[None]:
    start = time.monotonic()
    yield
    assert time.monotonic() - start < limit


@pytest.mark.backends("postgresql")
def test_a_postgresql_that_stops_answering_is_answered_503_not_waited_for(backend, tmp_path, monkeypatch):
    proxy = SilentProxy(POSTGRES_URL)
    db = tmp_path / "silent.db"
    # the mechanisms under test, with their waits shortened: the ping's limit and the writer's commit timeout
    monkeypatch.setattr("delivrd.store.postgres.store.PING_TIMEOUT", 0.5)
    monkeypatch.setattr("delivrd.app.Writer", functools.partial(Writer, commit_timeout=2.0))
    app = InProcessApp(db, proxy.url(backend.database_url(db)))
    try:
        client = app.client
        assert client.post("/sms/callback", content=body(batch(0, 3))).json() == ACK
        proxy.silent = True
        with elapsed(5):
            health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "unavailable", health.text
        with elapsed(15):  # at the latest the writer's commit timeout (here 2 s), checked a few times per timeout
            push = client.post("/sms/callback", content=body(batch(3, 3)))
        assert push.status_code == 503, push.text
        assert push.json()["result"] in (results.COMMIT_FAILED, results.COMMIT_TIMEOUT), push.text
        with elapsed(5):
            assert client.get("/healthz").status_code == 503
    finally:
        proxy.close()  # first: the connections end, so the store closes without waiting on them
        app.close()


def test_the_readme_lists_the_values_the_openapi_document_does():
    """The README's table of enumerated parameters against the document's `enum`s: a value added to the code
    (an inbox outcome, a statistics group) and not to the README fails here."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("| parameter | values |")
    rows = readme[start : readme.index("\n\n", start)].splitlines()[2:]
    documented = {}
    for row in rows:
        parameter, values, _ = row.strip("|").split("|")
        documented[re.findall(r"`(\w+)`", parameter)[0]] = re.findall(r"`(\w+)`", values)
    enums = {
        param["name"]: param["schema"]["enum"]
        for item in document()["paths"].values()
        for operation in item.values()
        for param in operation.get("parameters", [])
        if "enum" in param["schema"]
    }
    assert documented == enums
