"""`python -m bench.fuzz`: mutated Tencent pushes at a real delivrd, then proof that its promises held.

Starts `delivrd serve` on a fresh SQLite file or PostgreSQL schema (or takes `--url`),
sends `--requests` (and/or `--seconds` of) requests over `--concurrency` connections,
each a pure function of `--seed` and its index (see `bench.fuzz_gen`), and checks:

1. inbox: every request's body is in the inbox, as sent (`delivrd_inbox_total` and
   `GET /v1/inbox` paged through, bodies compared byte for byte).
2. answers: every answer is JSON `{"result": int, "errmsg": str}` with a `result` from
   the README's table and the HTTP status that table gives it; a body over
   `--max-body-bytes` gets 413 and one within it does not.
3. valid pushes: every push built unmutated (and every retry of one) is answered 200
   result 0, and so is every JSON array whose bad items sit beside valid ones.
4. reads: /v1/reports, /v1/rejects, /v1/replies and /v1/inbox page through completely;
   for a sample of stored reports /v1/reports?sid=, ?mobile=, /v1/messages/{sid} and
   /v1/phones/{phone} answer and show the report; /v1/stats (each `by=`), /v1/activity
   and `delivrd export reports|messages` (csv and jsonl) succeed.
5. stored: every valid item of an acked push is in /v1/reports (or /v1/replies), exactly
   once, with the fields as sent; the listings agree with /metrics' counters.

Prints a summary (with requests/s and the harness's and the server's CPU per request),
writes it as JSON with --json, exits 1 when any check failed.
`tests/test_fuzz.py` runs a short run of this on both backends.

Speed (a million requests must fit in minutes on two cores beside the server): requests
are sent by a minimal HTTP/1.1 keep-alive client on uvloop (httpx alone cost more CPU than
the server); valid items are drawn from one hash each and written by a fast JSON path;
valid pushes are sized like Tencent's (mostly 1-10 items, up to 100, rarely 500). The
read-back is bounded: listings are paged at limit=1000 with the next page asked for
ahead, the inbox bodies are compared as 64-bit digests (sorted, exact counts), lookups
are a sample (--sample) made a few at a time, and the exports run while the listings
are read. Counts stay exact: inbox rows, every acked valid item found once, listings
against /metrics, exports against /v1/reports.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from bench import fuzz_gen as gen
from bench.process import NotHealthy, wait_healthy
from delivrd.providers.tencent.decode import MAX_REJECT_ROWS

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("DELIVRD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
STATS_BY = ("day", "hour", "nationcode", "errmsg", "category", "template", "sign")
EXAMPLES_PER_KIND = 3


# -- the documented result codes --------------------------------------------------------------


def documented_results(readme: Path = ROOT / "README.md") -> dict[int, int]:
    """`result` → HTTP status, from the README's "Result codes" table (delivrd.results when there is no README)."""
    table: dict[int, int] = {}
    if readme.exists():
        text = readme.read_text(encoding="utf-8")
        section = text.split("### Result codes", 1)[-1].split("\n## ", 1)[0] if "### Result codes" in text else ""
        for m in re.finditer(r"^\|\s*(\d+)\s*\|\s*(\d{3})\s*\|", section, re.M):
            table[int(m.group(1))] = int(m.group(2))
    if not table:
        from delivrd.domain import results

        table = {code: status for code, (status, _) in results.TABLE.items()}
    return table


def parse_size(text: str) -> int:
    """`1m`, `512k`, `1500` → bytes (as `delivrd serve --max-body-bytes` reads them)."""
    m = re.fullmatch(r"\s*(\d+)\s*([kmg]?)i?b?\s*", text.lower())
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2)]


# -- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _pg(sql: str, url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class Server:
    """A `delivrd serve` of our own, on a temporary SQLite file or PostgreSQL schema."""

    def __init__(
        self,
        backend: str,
        max_body: str,
        *,
        db: Path | None = None,
        database_url: str | None = None,
        postgres_url: str = POSTGRES_URL,
        keep: bool = False,
    ) -> None:
        self.keep = keep
        self.workdir = Path(tempfile.mkdtemp(prefix="delivrd-fuzz-"))
        self.db = db or self.workdir / "fuzz.db"
        self.schema: str | None = None
        self.postgres_url = postgres_url
        self.database_url = database_url
        if backend == "postgresql" and database_url is None:
            self.schema = f"delivrd_fuzz_{uuid.uuid4().hex[:12]}"
            asyncio.run(_pg(f"CREATE SCHEMA {self.schema}", postgres_url))
            sep = "&" if "?" in postgres_url else "?"
            self.database_url = f"{postgres_url}{sep}search_path={self.schema}&application_name={self.schema}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.workdir / "server.log"
        self.max_body = max_body
        self.proc: subprocess.Popen[bytes] | None = None

    def database_args(self) -> list[str]:
        return ["--db", str(self.db), *(["--database-url", self.database_url] if self.database_url else [])]

    def start(self, timeout: float = 30.0) -> Server:
        cmd = [
            sys.executable,
            "-m",
            "delivrd",
            "serve",
            "--port",
            str(self.port),
            *self.database_args(),
            "--max-body-bytes",
            self.max_body,
            "--log-level",
            "warning",
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_healthy(self.proc, self.url, self.log, timeout)
        except NotHealthy:
            self.stop()
            raise
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tracebacks(self) -> int:
        return self.log.read_text(errors="replace").count("Traceback") if self.log.exists() else 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def cleanup(self, failed: bool) -> None:
        self.stop()
        if self.keep or failed:
            return  # kept for a look: the database and server.log
        if self.schema:
            try:
                asyncio.run(_pg(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE", self.postgres_url))
            except Exception:  # the schema is left behind; nothing else depends on it
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)


# -- what the run saw -----------------------------------------------------------------------------


@dataclass
class Options:
    url: str | None = None
    backend: str = "sqlite"
    db: Path | None = None  # with --url: the server's database, for `delivrd export`
    database_url: str | None = None
    postgres_url: str = POSTGRES_URL
    requests: int | None = None
    seconds: float | None = None
    concurrency: int = 64
    seed: int = 1
    max_body_bytes: str = "1m"
    check_every: int = 0
    sample: int = 500
    inbox_bodies: bool = True
    exports: bool = True
    keep: bool = False
    json_path: Path | None = None
    quiet: bool = False


@dataclass
class Run:
    """Everything the checks need, kept small: per request a few bytes, per valid item a bit."""

    seed: int
    limit: int
    table: dict[int, int]
    sent: int = 0
    answered: int = 0
    answers: Counter = field(default_factory=Counter)  # (status, result) → n
    by_kind: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    failures: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # check → kind → n
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    bodies: array = field(
        default_factory=lambda: array("Q")
    )  # digest of (route, body) of every body sent within the limit
    oversize: Counter = field(default_factory=Counter)  # route → bodies sent over the limit
    # per origin request i: how many item slots, whether a push carrying them was acked, its path
    items: array = field(default_factory=lambda: array("i"))
    acked: bytearray = field(default_factory=bytearray)
    reply: bytearray = field(default_factory=bytearray)
    bad: dict[int, tuple[int, ...]] = field(default_factory=dict)
    inbox_before: int = 0  # delivrd_inbox_total before the run
    incomplete: set = field(default_factory=set)  # listings that could not be paged through
    long_lookups: int = 0  # lookups not made: the value is too long for a URL (over 8,000 characters)
    odd: list = field(default_factory=list)  # (i, j) of bad callback items sent: looked up by sid after the run
    started: float = 0.0
    elapsed: float = 0.0
    cpu: float = 0.0  # the harness's CPU seconds while sending
    server_cpu: float | None = None  # the server's CPU seconds while sending (when it is ours)
    checked_in: float = 0.0  # seconds the read-back and exports took
    answer_cache: dict = field(default_factory=dict)  # (status, content-type, content) -> (problem, result)

    def fail(self, check: str, what: str, /, **example: Any) -> None:
        self.failures[check][what] += 1
        key = f"{check}|{what}"
        if len(self.examples[key]) < EXAMPLES_PER_KIND:
            self.examples[key].append(example)

    def record_sent(self, path: str, body: bytes) -> None:
        """What the inbox must hold for one request: its body, or a bodiless row when over the limit."""
        self.sent += 1
        if len(body) > self.limit:
            self.oversize[_route(path)] += 1
        else:
            self.bodies.append(body_digest(_route(path), body))

    def total_failures(self) -> int:
        return sum(sum(c.values()) for c in self.failures.values())


def _route(path: str) -> str:
    return "reply" if path == gen.REPLY else "callback"


def body_digest(route: str, body: bytes) -> int:
    """64 bits standing for (route, body): a million bodies in 8 MB, a collision as likely as 1 in 10^7."""
    return int.from_bytes(hashlib.blake2b(body, digest_size=8, person=route.encode()).digest(), "little")


def decode_json(content: bytes) -> Any:
    """JSON text → value: msgspec (fast), json for what msgspec refuses (lone surrogates in strings)."""
    try:
        return msgspec.json.decode(content)
    except msgspec.DecodeError:
        return json.loads(content)


def _draw(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _short(body: bytes, n: int = 300) -> str:
    return repr(body[:n]) + (f"...(+{len(body) - n} bytes)" if len(body) > n else "")


def _reason(content: bytes) -> str:
    """An answer's errmsg with its numbers and quoted parts blanked: one failure kind per reason."""
    try:
        text = str(json.loads(content).get("errmsg", ""))
    except (ValueError, AttributeError):
        text = content[:80].decode(errors="replace")
    return re.sub(r"\d+", "N", re.sub(r"'[^']*'|`[^`]*`", "…", text))[:90]


def check_answer(run: Run, req: gen.Request, status: int, headers: Any, content: bytes) -> int | None:
    """Check 2 for one answer; its `result` when it is a documented answer, else None."""
    ctype = headers.get("content-type", "")
    key = (status, ctype, content)
    known = run.answer_cache.get(key)
    if known is None:
        known = _judge_answer(run, status, ctype, content)
        if len(content) <= 512 and len(run.answer_cache) < 50_000:  # the same few answers, mostly
            run.answer_cache[key] = known
    problem, result = known
    if problem is not None:
        run.fail(
            "answers",
            f"{status}: {problem}",
            request=req.index,
            kind=req.kind,
            how=req.how,
            path=req.path,
            body=_short(req.body),
            answer=f"{status} {content[:300]!r}",
        )
        return None
    over = len(req.body) > run.limit
    if over != (status == 413):
        run.fail(
            "answers",
            f"size {len(req.body)} vs limit {run.limit} answered {status}",
            request=req.index,
            kind=req.kind,
            how=req.how,
            path=req.path,
            body=_short(req.body),
            answer=f"{status} {content[:300]!r}",
        )
    return result


def _judge_answer(run: Run, status: int, ctype: str | None, content: bytes) -> tuple[str | None, int | None]:
    """(what is wrong with the answer or None, its result)."""
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if not (ctype or "").startswith("application/json"):
        return f"content-type {ctype!r}", None
    if not isinstance(data, dict) or type(data.get("result")) is not int or type(data.get("errmsg")) is not str:
        return "not {result: int, errmsg: str}", None
    result = data["result"]
    if result not in run.table:
        return f"result {result} is not in the README's table", None
    if run.table[result] != status:
        return f"result {result} with HTTP {status}; the table says {run.table[result]}", None
    return None, result


# -- sending ------------------------------------------------------------------------------------


def parse_answer(data: bytes) -> tuple[int, dict[str, str], bytes]:
    """A whole HTTP/1.1 answer, read to the connection's end; ConnectionResetError when it is not whole."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    try:
        if not sep:
            raise ValueError("no end of headers")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            n = int(headers["content-length"])
            if len(rest) < n:
                raise ValueError("body cut short")
            return status, headers, rest[:n]
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    return status, headers, b"".join(parts)
                if len(rest) < size + 2:
                    raise ValueError("chunk cut short")
                parts.append(rest[:size])
                rest = rest[size + 2 :]
        return status, headers, rest
    except (ValueError, IndexError) as exc:
        raise ConnectionResetError(f"no whole answer ({len(data)} bytes) before the connection closed: {exc}") from None


class Connection:
    """One HTTP/1.1 keep-alive connection to 127.0.0.1: the least a POST and its answer need.

    The send loop's hot path (httpx spends more CPU per request than the rest of the harness); the
    read-back uses httpx. Bodies over 64 KiB go on a blocking socket of their own (post_blocking).
    """

    IDLE = 1.0  # seconds a connection may idle before it is replaced (the server closes idle ones after 5)
    LARGE = 1 << 16  # a larger body goes by post_blocking()

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.idle_since = 0.0
        self.heads = {
            path: (
                f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\nContent-Length: "
            ).encode()
            for path in (gen.CALLBACK, gen.REPLY)
        }

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if len(body) > self.LARGE:
            return await asyncio.to_thread(self.post_blocking, path, body)
        if self.writer is not None and time.monotonic() - self.idle_since > self.IDLE:
            self.close()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        writer = self.writer
        writer.write(self.heads[path] + b"%d\r\n\r\n" % len(body) + body)
        await writer.drain()
        try:
            status, headers, content, close = await self._answer()
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        else:
            self.idle_since = time.monotonic()
        return status, headers, content

    def post_blocking(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """A large body, on a blocking socket of its own (closed after): the answer is read even after a reset.

        The server answers a body over --max-body-bytes with 413 at once and closes, which resets the upload;
        the 413 is in the socket's buffer all the same and a blocking recv() returns it, but asyncio streams
        (and httpx, which sometimes reported "no answer" here) give up on a connection once a write failed.
        """
        head = self.heads[path].replace(b"Content-Length: ", b"Connection: close\r\nContent-Length: ")
        with socket.create_connection((self.host, self.port), timeout=60) as sock:
            try:
                sock.sendall(head + b"%d\r\n\r\n" % len(body) + body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # answered and closed before the whole body was read: read the answer
            received = bytearray()
            try:
                while chunk := sock.recv(1 << 16):
                    received += chunk
            except ConnectionResetError:
                pass  # after the answer, or before it: parse_answer() tells
        return parse_answer(bytes(received))

    async def _answer(self) -> tuple[int, dict[str, str], bytes, bool]:
        reader = self.reader
        assert reader is not None
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        close = headers.get("connection", "").lower() == "close"
        if "content-length" in headers:
            content = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            content = b"".join(parts)
        elif status in (204, 304) or 100 <= status < 200:
            content = b""
        else:
            content, close = await reader.read(), True
        return status, headers, content, close


class Sender:
    def __init__(self, run: Run, client: httpx.AsyncClient, opts: Options, until: float | None) -> None:
        self.run = run
        self.client = client
        self.opts = opts
        self.until = until
        self.next = 0
        self.in_flight = 0
        self.checking = asyncio.Lock()
        url = httpx.URL(str(client.base_url))
        self.host, self.port = url.host, url.port or 80

    def take(self) -> gen.Request | None:
        if self.opts.requests is not None and self.next >= self.opts.requests:
            return None
        if self.until is not None and time.monotonic() >= self.until:
            return None
        i = self.next
        self.next += 1
        req = gen.plan(self.run.seed, i, self.run.limit)
        run = self.run
        # origin bookkeeping, in index order (take() is not interrupted by other tasks)
        run.items.append(req.items if req.kind in ("valid", "neighbour") else 0)
        run.acked.append(0)
        run.reply.append(req.path == gen.REPLY)
        if req.kind == "neighbour":
            run.bad[i] = req.bad
            if req.path == gen.CALLBACK:
                for j in req.bad:  # a reservoir of the bad items' sids, to look each up after the run
                    if len(run.odd) < self.opts.sample:
                        run.odd.append((i, j))
                    elif (k := _draw(f"odd/{i}/{j}") % (i + 1)) < len(run.odd):
                        run.odd[k] = (i, j)
        return req

    async def worker(self) -> None:
        run = self.run
        conn = Connection(self.host, self.port)
        try:
            while (req := self.take()) is not None:
                run.record_sent(req.path, req.body)
                self.in_flight += 1
                try:
                    async with asyncio.timeout(60):
                        status, headers, content = await conn.post(req.path, req.body)
                except (
                    OSError,
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                    ValueError,
                    IndexError,
                    TimeoutError,
                ) as exc:
                    self.in_flight -= 1
                    name = type(exc).__name__
                    run.answers[("no answer", name)] += 1
                    run.by_kind[req.kind][f"no answer: {name}"] += 1
                    run.fail(
                        "answers",
                        f"no answer ({name})",
                        request=req.index,
                        kind=req.kind,
                        how=req.how,
                        path=req.path,
                        body=_short(req.body),
                        answer=str(exc)[:300],
                    )
                    continue
                self.in_flight -= 1
                run.answered += 1
                result = check_answer(run, req, status, headers, content)
                run.answers[(status, result)] += 1
                run.by_kind[req.kind][f"{status}/{result}"] += 1
                ok = status == 200 and result == 0
                if req.expects_items:
                    if ok:
                        run.acked[req.origin] = 1
                    else:
                        check = "neighbours refused" if req.kind == "neighbour" else "valid refused"
                        run.fail(
                            check,
                            f"{status}/{result} {_reason(content)}",
                            request=req.index,
                            kind=req.kind,
                            how=req.how,
                            path=req.path,
                            body=_short(req.body, 600),
                            answer=f"{status} {content[:300]!r}",
                        )
                if self.opts.check_every and run.sent % self.opts.check_every == 0 and not self.checking.locked():
                    async with self.checking:
                        await self.midway()
        finally:
            conn.close()

    async def midway(self) -> None:
        """Every K requests: the inbox holds at least what was answered, the read API answers."""
        run = self.run
        answered = run.answered  # stored before /metrics is asked
        inbox = await inbox_total(self.client, run)
        sent = run.sent  # the senders go on meanwhile: what the answer may count
        if inbox is not None and not (answered <= inbox - run.inbox_before <= sent):
            run.fail("inbox", "midway count out of range", answered=answered, sent=sent, inbox=inbox - run.inbox_before)
        for url in ("/v1/reports?limit=100", "/v1/stats", "/v1/rejects?limit=100", "/v1/inbox?limit=10"):
            await read_json(self.client, run, url, "midway")


# -- reading back ---------------------------------------------------------------------------------


async def read_json(
    client: httpx.AsyncClient, run: Run, url: str, what: str, params: dict | None = None, allow_404: bool = False
) -> Any:
    """GET url; the JSON answer, or None (and a read failure) when it is not 200 JSON (or a JSON 404, if allowed)."""
    answer = None
    if len(url) + sum(len(str(v)) for v in (params or {}).values()) * 3 > 8000:
        run.long_lookups += 1  # no HTTP server takes such a URL; not the store's failure
        return None
    for attempt in range(2):  # a kept-alive connection the server closed after its last answer: once more
        try:
            answer = await client.get(url, params=params)
            break
        except httpx.TransportError as exc:
            if attempt:
                run.fail(
                    "reads", f"{what}: {type(exc).__name__}", url=url, params=repr(params)[:300], answer=str(exc)[:300]
                )
                return None
        except (httpx.HTTPError, UnicodeError, ValueError) as exc:
            run.fail(
                "reads", f"{what}: {type(exc).__name__}", url=url, params=repr(params)[:300], answer=str(exc)[:300]
            )
            return None
    assert answer is not None
    try:
        data = decode_json(answer.content) if answer.status_code == 200 else None
        if allow_404 and answer.status_code == 404 and run.table.get(decode_json(answer.content).get("result")) == 404:
            return None
    except (ValueError, AttributeError):
        data = None
    if data is None:
        route = url.split("?")[0]
        route = re.sub(r"^/v1/(messages|phones)/.*", r"/v1/\1/{x}", route)
        run.fail(
            "reads",
            f"{what}: {route} -> {answer.status_code} {_reason(answer.content)[:60]}",
            url=str(answer.request.url)[:300],
            answer=f"{answer.status_code} {answer.content[:300]!r}",
        )
    return data


async def page_all(client: httpx.AsyncClient, run: Run, route: str, what: str):
    """Every item of a listing, newest first; stops (with a read failure) at a page that fails.

    The next page is asked for before this one's items are handed out, so the server pages while
    the caller checks (a million requests' listings are thousands of pages).
    """
    cursor = None
    ahead = asyncio.ensure_future(read_json(client, run, route, what, {"limit": "1000"}))
    try:
        while True:
            page = await ahead
            ahead = None
            if page is None:
                run.incomplete.add(route)
                return
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                run.fail("reads", f"{what}: {route} page is not {{items, next_cursor}}", answer=repr(page)[:300])
                run.incomplete.add(route)
                return
            cursor = page.get("next_cursor")
            if cursor is not None:
                ahead = asyncio.ensure_future(read_json(client, run, route, what, {"limit": "1000", "cursor": cursor}))
            for item in page["items"]:
                yield item
            if cursor is None:
                return
    finally:
        if ahead is not None:
            ahead.cancel()


async def metrics(client: httpx.AsyncClient) -> dict[str, int] | None:
    try:
        answer = await client.get("/metrics")
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    values = {}
    for line in answer.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            try:
                values[name] = int(float(value))
            except ValueError:
                pass
    return values


async def inbox_total(client: httpx.AsyncClient, run: Run) -> int | None:
    m = await metrics(client)
    if m is None or "delivrd_inbox_total" not in m:
        run.fail("inbox", "GET /metrics has no delivrd_inbox_total")
        return None
    return m["delivrd_inbox_total"]


async def first_id(client: httpx.AsyncClient, route: str) -> int:
    """The newest id of a listing (0 when empty): what was there before the run."""
    try:
        page = (await client.get(route, params={"limit": "1"})).json()
        return int(page["items"][0]["id"]) if page["items"] else 0
    except Exception:
        return 0


async def check_inbox(client: httpx.AsyncClient, run: Run, opts: Options, before_id: int) -> dict[str, Any]:
    """Check 1: the inbox grew by exactly the requests sent, and holds each body as sent."""
    total = await inbox_total(client, run)
    grew = None if total is None else total - run.inbox_before
    if grew is not None and grew != run.sent:
        run.fail("inbox", "delivrd_inbox_total grew by a different number than requests sent", sent=run.sent, grew=grew)
    out: dict[str, Any] = {"metric_grew": grew}
    if not opts.inbox_bodies:
        return out
    kept = array("Q")
    too_large: Counter = Counter()
    rows = quarantined = reject_rows = 0
    async with contextlib.aclosing(page_all(client, run, "/v1/inbox", "inbox")) as entries:
        async for entry in entries:
            if entry["id"] <= before_id:
                break
            rows += 1
            quarantined += entry["rejected"]
            reject_rows += min(entry["rejected"], MAX_REJECT_ROWS) + (entry["rejected"] > MAX_REJECT_ROWS)
            route = entry.get("route")
            if entry.get("body") is not None:
                body = entry["body"].encode("utf-8", "surrogatepass")
            elif entry.get("body_base64") is not None:
                body = base64.b64decode(entry["body_base64"])
            else:
                too_large[route] += 1
                continue
            kept.append(body_digest(str(route), body))
    out["rows"] = rows
    out["quarantined"] = quarantined  # items, as delivrd_rejects_total counts them
    out["reject_rows"] = reject_rows  # what /v1/rejects lists: a row each for the first MAX_REJECT_ROWS, then one
    if rows != run.sent:
        run.fail("inbox", "GET /v1/inbox rows != requests sent", sent=run.sent, rows=rows)
    missing_n = unexpected_n = 0
    sent_sorted, kept_sorted = sorted(run.bodies), sorted(kept)
    if sent_sorted != kept_sorted:  # the multisets differ: by how much, each way
        sent_c, kept_c = Counter(sent_sorted), Counter(kept_sorted)
        missing_n, unexpected_n = sum((sent_c - kept_c).values()), sum((kept_c - sent_c).values())
    out["bodies_missing"] = missing_n
    out["bodies_unexpected"] = unexpected_n
    if missing_n:
        run.failures["inbox"]["body sent but not kept as sent"] += missing_n
    if unexpected_n:
        run.failures["inbox"]["body kept that was never sent"] += unexpected_n
    if too_large != run.oversize:
        run.fail("inbox", "bodiless rows != bodies sent over the limit", kept=dict(too_large), sent=dict(run.oversize))
    return out


def judge_rejects(run: Run, inbox: dict[str, Any], store: dict[str, Any]) -> None:
    """The quarantine agrees with the inbox: delivrd_rejects_total counts the items each body had
    quarantined, and /v1/rejects lists a row for each of a body's first MAX_REJECT_ROWS, then one more."""
    if "quarantined" not in inbox or run.incomplete:
        return
    metric = store.get("rejects_metric")
    if metric is not None and metric != inbox["quarantined"]:
        run.fail(
            "reads",
            "delivrd_rejects_total != items quarantined by the inbox",
            metric=metric,
            inbox=inbox["quarantined"],
        )
    if store.get("rejects") != inbox["reject_rows"]:
        run.fail(
            "reads",
            "reject rows listed != rows the inbox's counts call for",
            listed=store.get("rejects"),
            inbox=inbox["reject_rows"],
        )


async def check_store(client: httpx.AsyncClient, run: Run, opts: Options, server: Server | None) -> dict[str, Any]:
    """Checks 4 and 5: everything stored reads back, and every acked valid item is stored once, as sent."""
    seed = run.seed
    pattern = gen.marker_pattern(seed)
    base = array("q", [0]) * (len(run.items) + 1)
    for i, n in enumerate(run.items):
        base[i + 1] = base[i] + n
    found = bytearray(base[-1])
    out: dict[str, Any] = {}
    rnd = random.Random(seed)
    strange: list[dict[str, Any]] = []  # reports not built by the valid generator: the interesting ones
    plain: list[dict[str, Any]] = []
    seen = 0
    started = time.monotonic()

    def mark(i: int, j: int, ok: bool, row: dict[str, Any], what: str) -> None:
        if i >= len(run.items) or j >= run.items[i] or j in run.bad.get(i, ()):
            return
        if not ok:
            run.fail("stored", f"{what} stored with other fields than sent", request=i, item=j, row=repr(row)[:400])
            return
        slot = base[i] + j
        if found[slot]:
            run.fail("stored", f"{what} stored twice", request=i, item=j, row=repr(row)[:300])
        found[slot] = 1

    reports = 0
    async for row in page_all(client, run, "/v1/reports", "reports"):
        reports += 1
        ij = gen.parse_marker(seed, pattern, row.get("sid"))
        if ij is not None and ij[0] < len(run.reply) and not run.reply[ij[0]]:
            i, j = ij
            mark(i, j, gen.stored_report(row) == gen.expected_report(gen.valid_report(seed, i, j)), row, "report")
            seen += 1
            if len(plain) < opts.sample // 5:
                plain.append(row)
            elif plain and rnd.random() < 0.01:
                plain[rnd.randrange(len(plain))] = row
        else:
            if len(strange) < opts.sample:
                strange.append(row)
            elif rnd.random() < opts.sample / max(reports, 1):
                strange[rnd.randrange(len(strange))] = row
    out["reports"] = reports
    replies = 0
    async for row in page_all(client, run, "/v1/replies", "replies"):
        replies += 1
        ij = gen.parse_marker(seed, pattern, row.get("text"), search=True)
        if ij is not None and ij[0] < len(run.reply) and run.reply[ij[0]]:
            i, j = ij
            mark(i, j, gen.expected_reply(row) == gen.expected_reply(gen.valid_reply(seed, i, j)), row, "reply")
    out["replies"] = replies
    rejects = 0
    async for _ in page_all(client, run, "/v1/rejects", "rejects"):
        rejects += 1
    out["rejects"] = rejects
    out["listings_seconds"] = round(time.monotonic() - started, 2)

    # check 5: every valid item of an acked push was found (when the listings could be read to the end)
    missing = 0
    for i, n in enumerate(run.items):
        if not run.acked[i] or not n:
            continue
        listing = "/v1/replies" if run.reply[i] else "/v1/reports"
        if listing in run.incomplete:
            continue
        bad = run.bad.get(i, ())
        if not bad and not found.count(0, base[i], base[i] + n):
            continue  # all found (the common case, checked in C)
        for j in range(n):
            if j not in bad and not found[base[i] + j]:
                missing += 1
                run.fail(
                    "stored",
                    "acked valid item not found" + (" (reply)" if run.reply[i] else ""),
                    request=i,
                    item=j,
                    kind="neighbour" if bad else "valid",
                )
    out["valid_items_expected"] = sum(
        n - len(run.bad.get(i, ())) for i, n in enumerate(run.items) if run.acked[i] and n
    )
    out["valid_items_missing"] = missing
    for listing in sorted(run.incomplete & {"/v1/reports", "/v1/replies"}):
        run.fail("stored", f"acked valid items unverifiable: {listing} could not be read to the end")

    # the listings agree with the counters (what /metrics says is stored is what can be read)
    if server is not None and not run.incomplete:
        m = await metrics(client) or {}
        for name, listed in (("delivrd_reports_total", reports), ("delivrd_replies_total", replies)):
            if name in m and m[name] != listed:
                run.fail("reads", f"{name} != items listed", metric=m[name], listed=listed)
        out["rejects_metric"] = m.get("delivrd_rejects_total")

    # check 4: one report at a time, through every route that shows it
    sample = strange + plain
    out["sampled_reports"] = len(sample)
    started = time.monotonic()

    # the bad items sent beside valid ones, by the sid and number they were sent with (stored or quarantined,
    # every lookup must answer): a row that breaks a listing is reached this way even when paging stopped early
    async def look_up_sent(i: int, j: int) -> None:
        item = gen.valid_report(seed, i, j)
        sid = f"{gen.prefix(seed)}w:{i}-{j}"
        await read_json(client, run, "/v1/reports", "reports?sid= (sent)", {"sid": sid})
        await read_json(client, run, f"/v1/messages/{_path_part(sid)}", "message (sent)", allow_404=True)
        await read_json(client, run, "/v1/reports", "reports?mobile= (sent)", {"mobile": item["mobile"]})
        await read_json(
            client, run, f"/v1/phones/{_path_part('+' + item['nationcode'] + item['mobile'])}", "phone (sent)"
        )

    # a few lookups at a time: the server answers one while the next is on its way
    await bounded([check_one_report(client, run, row) for row in sample] + [look_up_sent(i, j) for i, j in run.odd])
    out["sent_bad_items_looked_up"] = len(run.odd)
    out["lookups_too_long_for_a_url"] = run.long_lookups
    for by in (None, *STATS_BY):
        await read_json(client, run, "/v1/stats", "stats", {"by": by} if by else None)
    await read_json(client, run, "/v1/activity", "activity")
    await read_json(client, run, "/v1/receipt-codes", "receipt-codes")
    await read_json(client, run, "/healthz", "healthz")
    out["lookups_seconds"] = round(time.monotonic() - started, 2)
    return out


async def bounded(work: list, at_once: int = 6) -> None:
    """Await every coroutine of `work`, at most `at_once` at a time."""
    queue = iter(work)

    async def drain() -> None:
        for coroutine in queue:
            await coroutine

    await asyncio.gather(*(drain() for _ in range(at_once)))


def _path_part(text: str) -> str:
    return quote(text, safe="").replace(".", "%2E")


async def check_one_report(client: httpx.AsyncClient, run: Run, row: dict[str, Any]) -> None:
    sid, rid = row.get("sid"), row.get("id")
    try:
        sid_path = _path_part(sid)
    except (TypeError, UnicodeError) as exc:
        run.fail("reads", "stored sid cannot be put in a URL", sid=repr(sid)[:200], error=str(exc))
        return
    view = await read_json(client, run, f"/v1/messages/{sid_path}", "message")
    shown = view.get("reports") or [] if isinstance(view, dict) else []
    if view is not None and len(shown) < 1000 and not any(r.get("id") == rid for r in shown):
        run.fail("reads", "/v1/messages/{sid} does not show the report", sid=repr(sid)[:200], id=rid)
    for name in ("sid", "mobile"):
        value = row.get(name)
        if not value or not value.strip():
            continue  # an empty filter is no filter
        page = await read_json(client, run, "/v1/reports", f"reports?{name}=", {name: value, "limit": "1000"})
        if (
            page is not None
            and len(page.get("items", ())) < 1000
            and not any(r.get("id") == rid for r in page["items"])
        ):
            run.fail("reads", f"/v1/reports?{name}= does not show the report", value=repr(value)[:200], id=rid)
    phone = row.get("phone")
    if phone:
        view = await read_json(client, run, f"/v1/phones/{_path_part(phone)}", "phone")
        messages = (view or {}).get("messages") or []
        shown = [m.get("sid") for m in messages]
        if view is not None and sum(len(m.get("reports") or ()) for m in messages) < 1000 and sid not in shown:
            run.fail(
                "reads",
                "/v1/phones/{phone} does not show the report's message",
                phone=phone,
                sid=repr(sid)[:200],
                nationcode=row.get("nationcode"),
                mobile=row.get("mobile"),
            )


def check_exports(run: Run, database: list[str], reports: int | None) -> dict[str, Any]:
    """`delivrd export reports|messages`, csv and jsonl, on the server's database: exit 0 (and every report)."""
    return judge_exports(run, run_exports(database), reports)


def run_exports(database: list[str], at_once: int = 2) -> list[tuple[str, str, int | None, str]]:
    """Each export, `at_once` at a time: (what, format, exit status or None when it timed out, stderr)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(what: str, fmt: str) -> tuple[str, str, int | None, str]:
        with tempfile.NamedTemporaryFile(suffix=f".{fmt}") as target:
            cmd = [sys.executable, "-m", "delivrd", "export", what, "--format", fmt, "-o", target.name, *database]
            try:
                proc = subprocess.run(cmd, capture_output=True, timeout=1800)
            except subprocess.TimeoutExpired:
                return what, fmt, None, ""
            return what, fmt, proc.returncode, proc.stderr.decode(errors="replace")

    with ThreadPoolExecutor(at_once) as pool:
        return list(
            pool.map(lambda job: one(*job), [(w, f) for w in ("reports", "messages") for f in ("csv", "jsonl")])
        )


def judge_exports(run: Run, done: list[tuple[str, str, int | None, str]], reports: int | None) -> dict[str, Any]:
    out = {}
    for what, fmt, code, said in done:
        if code is None:
            run.fail("reads", f"export {what} {fmt}: timed out")
            continue
        out[f"{what}.{fmt}"] = code
        if code != 0:
            run.fail("reads", f"export {what} {fmt}: exit {code}", stderr=said[-600:])
            continue
        m = re.search(r"exported (\d+)", said)
        if what == "reports" and reports is not None and (m is None or int(m.group(1)) != reports):
            run.fail("reads", f"export reports {fmt}: count differs from /v1/reports", said=said[-200:], listed=reports)
    return out


# -- the run ------------------------------------------------------------------------------------


def cpu_of(pid: int | None) -> float | None:
    """CPU seconds (user + system) of a process, from /proc; None where there is no /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def _run(opts: Options, base_url: str, server: Server | None, run: Run, database: list[str]) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=opts.concurrency, max_keepalive_connections=opts.concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=300, limits=limits) as client:
        before_id = await first_id(client, "/v1/inbox")
        total = await inbox_total(client, run)
        run.inbox_before = total or 0
        until = time.monotonic() + opts.seconds if opts.seconds else None
        sender = Sender(run, client, opts, until)
        server_pid = server.proc.pid if server is not None and server.proc is not None else None
        server_cpu = cpu_of(server_pid)
        cpu = time.process_time()
        run.started = time.monotonic()
        progress = asyncio.create_task(_progress(run, opts, server_pid))
        try:
            await asyncio.gather(*(sender.worker() for _ in range(opts.concurrency)))
        finally:
            progress.cancel()
        run.elapsed = time.monotonic() - run.started
        run.cpu = time.process_time() - cpu
        after = cpu_of(server_pid)
        run.server_cpu = None if server_cpu is None or after is None else after - server_cpu
        if server is not None and not server.alive():
            run.fail("answers", "the server died during the run")
            return {}
        checking = time.monotonic()
        # the exports read the database in processes of their own while the read API is paged through
        exports = None
        if opts.exports and database:
            exports = asyncio.ensure_future(asyncio.to_thread(run_exports, database))
        try:
            inbox, store = await asyncio.gather(
                check_inbox(client, run, opts, before_id), check_store(client, run, opts, server)
            )
        finally:
            done = await exports if exports is not None else None
        judge_rejects(run, inbox, store)
        judged = judge_exports(run, done, store.get("reports")) if done is not None else None
        run.checked_in = time.monotonic() - checking
    return {"inbox": inbox, "store": store, "exports": judged}


async def _progress(run: Run, opts: Options, server_pid: int | None) -> None:
    if opts.quiet:
        return
    cpu0, server0 = time.process_time(), cpu_of(server_pid)
    while True:
        await asyncio.sleep(10)
        rate = run.sent / max(time.monotonic() - run.started, 1e-9)
        cpu = (time.process_time() - cpu0) / max(run.sent, 1) * 1000
        server = cpu_of(server_pid)
        served = (
            "" if server is None or server0 is None else f", server {(server - server0) / max(run.sent, 1) * 1000:.2f}"
        )
        print(
            f"  ... {run.sent} sent, {rate:.0f} req/s, CPU ms/request: harness {cpu:.2f}{served}; "
            f"{run.total_failures()} failures so far",
            file=sys.stderr,
        )


def _event_loop(main: Any) -> Any:
    """asyncio.run, on uvloop when it is installed (a cheaper event loop for the send loop)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def run(opts: Options) -> dict[str, Any]:
    """One fuzz run; the summary (also written to opts.json_path). `summary["ok"]` is the verdict."""
    if opts.requests is None and opts.seconds is None:
        opts.requests = 10_000
    limit = parse_size(opts.max_body_bytes)
    server = None
    if opts.url is None:
        server = Server(
            opts.backend,
            opts.max_body_bytes,
            db=opts.db,
            database_url=opts.database_url,
            postgres_url=opts.postgres_url,
            keep=opts.keep,
        ).start()
        base_url = server.url
        database = server.database_args()
    else:
        base_url = opts.url.rstrip("/")
        database = ["--db", str(opts.db)] if opts.db else []
        if opts.database_url:
            database += ["--database-url", opts.database_url]
    state = Run(seed=opts.seed, limit=limit, table=documented_results())
    failed = True
    try:
        details = _event_loop(_run(opts, base_url, server, state, database if opts.exports else []))
        exports = details.get("exports")
        if opts.exports and not database:
            exports = {"skipped": "give --db or --database-url with --url to check `delivrd export`"}
        summary = summarize(state, opts, details, exports, server)
        failed = not summary["ok"]
    finally:
        if server is not None:
            if not opts.quiet and failed:
                print(f"server log and database kept in {server.workdir}", file=sys.stderr)
            server.cleanup(failed)
    if opts.json_path:
        Path(opts.json_path).write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    return summary


def summarize(run: Run, opts: Options, details: dict, exports: dict | None, server: Server | None) -> dict[str, Any]:
    checks = {
        "inbox": sum(run.failures["inbox"].values()),
        "answers": sum(run.failures["answers"].values()),
        "valid refused": sum(run.failures["valid refused"].values()),
        "neighbours refused": sum(run.failures["neighbours refused"].values()),
        "reads": sum(run.failures["reads"].values()),
        "stored": sum(run.failures["stored"].values()),
    }
    inbox = details.get("inbox", {})
    return {
        "ok": not any(checks.values()) and run.sent > 0 and bool(details),
        "seed": run.seed,
        "backend": None if opts.url else opts.backend,
        "url": opts.url,
        "max_body_bytes": run.limit,
        "requests": run.sent,
        "answered": run.answered,
        "seconds": round(run.elapsed, 2),
        "requests_per_second": round(run.sent / run.elapsed, 1) if run.elapsed else None,
        "harness_cpu_ms_per_request": round(run.cpu / run.sent * 1000, 3) if run.sent else None,
        "server_cpu_ms_per_request": round(run.server_cpu / run.sent * 1000, 3)
        if run.sent and run.server_cpu is not None
        else None,
        "check_seconds": round(run.checked_in, 2),
        "inbox_rows": inbox.get("rows", inbox.get("metric_grew")),
        "inbox_metric_grew": inbox.get("metric_grew"),
        "kept_body_mismatches": (inbox.get("bodies_missing") or 0) + (inbox.get("bodies_unexpected") or 0),
        "answers": {f"{s}/{r}": n for (s, r), n in sorted(run.answers.items(), key=lambda x: -x[1])},
        "answers_by_kind": {k: dict(v.most_common()) for k, v in sorted(run.by_kind.items())},
        "valid_pushes_refused": checks["valid refused"],
        "neighbour_pushes_refused": checks["neighbours refused"],
        "read_failures": checks["reads"],
        "stored_failures": checks["stored"],
        "failed_checks": {k: v for k, v in checks.items() if v},
        "failures": {check: dict(kinds.most_common()) for check, kinds in run.failures.items() if kinds},
        "examples": dict(run.examples),
        "store": details.get("store"),
        "exports": exports,
        "server_tracebacks": server.tracebacks() if server else None,
        "replay": f"--seed {run.seed}" + (f" --requests {run.sent}" if run.sent else ""),
    }


def print_summary(s: dict[str, Any], file=sys.stdout) -> None:
    w = lambda *a: print(*a, file=file)  # noqa: E731
    w(
        f"requests:          {s['requests']} sent, {s['answered']} answered in {s['seconds']} s "
        f"({s['requests_per_second']} req/s), seed {s['seed']}"
    )
    server_cpu = s.get("server_cpu_ms_per_request")
    w(
        f"CPU per request:   harness {s['harness_cpu_ms_per_request']} ms"
        + (f", server {server_cpu} ms" if server_cpu is not None else "")
        + f"; read-back and exports took {s['check_seconds']} s"
    )
    w(f"inbox rows:        {s['inbox_rows']} (delivrd_inbox_total grew {s['inbox_metric_grew']})")
    w(f"kept-body mismatches: {s['kept_body_mismatches']}")
    w("answers:           " + ", ".join(f"{k}: {v}" for k, v in s["answers"].items()))
    for kind, counts in s["answers_by_kind"].items():
        w(f"  {kind:<11} " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    w(f"valid pushes refused:     {s['valid_pushes_refused']}")
    w(f"neighbour pushes refused: {s['neighbour_pushes_refused']}")
    w(f"read failures:            {s['read_failures']}")
    w(f"stored failures:          {s['stored_failures']}")
    store = s.get("store") or {}
    if store:
        w(
            f"read back:         {store.get('reports')} reports, {store.get('replies')} replies, "
            f"{store.get('rejects')} rejects; {store.get('valid_items_expected')} acked valid items, "
            f"{store.get('valid_items_missing')} missing; {store.get('sampled_reports')} stored reports and "
            f"{store.get('sent_bad_items_looked_up')} sent bad items looked up one by one"
        )
    if s.get("server_tracebacks"):
        w(f"server log:        {s['server_tracebacks']} tracebacks")
    for check, kinds in s["failures"].items():
        for kind, n in kinds.items():
            if not n:
                continue
            w(f"FAIL {check}: {kind} ×{n}")
            for ex in s["examples"].get(f"{check}|{kind}", [])[:1]:
                w("     e.g. " + json.dumps(ex, ensure_ascii=False)[:700])
    w("OK: every check passed" if s["ok"] else f"FAILED: {s['failed_checks'] or 'no requests or no read-back'}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.fuzz",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="start a delivrd of our own on a temporary SQLite file or PostgreSQL schema (default sqlite)",
    )
    where.add_argument(
        "--url",
        help="fuzz a running delivrd instead (e.g. http://127.0.0.1:8080); nothing else may send to it during the run",
    )
    p.add_argument("--db", type=Path, help="with --url: the server's SQLite file, for the export check")
    p.add_argument("--database-url", help="with --url: the server's PostgreSQL URL, for the export check")
    p.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
        help=f"where --backend postgresql makes its schema (default {POSTGRES_URL}, or DELIVRD_TEST_POSTGRES_URL)",
    )
    p.add_argument(
        "--requests", type=int, help="stop after this many requests (default 10000 when --seconds is not given)"
    )
    p.add_argument("--seconds", type=float, help="stop sending after this long")
    p.add_argument(
        "--concurrency",
        type=int,
        default=64,
        help="connections (default 64: larger commit groups, less server CPU per request than 16)",
    )
    p.add_argument("--seed", type=int, default=1, help="the same seed sends the same requests (default 1)")
    p.add_argument("--max-body-bytes", default="1m", help="passed to the server; with --url, the server's (default 1m)")
    p.add_argument(
        "--check-every",
        type=int,
        default=0,
        metavar="K",
        help="also check the inbox count and the read API every K requests",
    )
    p.add_argument(
        "--sample",
        type=int,
        default=500,
        help="stored reports looked up one by one after the run (default 500; 0: none)",
    )
    p.add_argument(
        "--no-inbox-bodies",
        action="store_true",
        help="count inbox rows through /metrics only, without reading every body back",
    )
    p.add_argument("--no-exports", action="store_true", help="skip `delivrd export`")
    p.add_argument("--keep", action="store_true", help="keep the temporary database and server log")
    p.add_argument("--json", type=Path, dest="json_path", help="write the summary as JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    a = p.parse_args(argv)
    parse_size(a.max_body_bytes)
    opts = Options(
        url=a.url,
        backend=a.backend,
        db=a.db,
        database_url=a.database_url,
        postgres_url=a.postgres_url,
        requests=a.requests,
        seconds=a.seconds,
        concurrency=a.concurrency,
        seed=a.seed,
        max_body_bytes=a.max_body_bytes,
        check_every=a.check_every,
        sample=a.sample,
        inbox_bodies=not a.no_inbox_bodies,
        exports=not a.no_exports,
        keep=a.keep,
        json_path=a.json_path,
        quiet=a.quiet,
    )
    summary = run(opts)
    print_summary(summary)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
