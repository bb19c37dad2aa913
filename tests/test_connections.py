"""Bounded connections against a real `delivrd serve`: what idle, slow, oversized and broken clients get.

Storage is not the point here, so these run on SQLite only. Clients are raw sockets,
since the misbehaviour under test is what an HTTP library would not send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from delivrd.wire.serving import BoundedProtocol
from tests.servers import ServerProcess, free_port

pytestmark = pytest.mark.backends("sqlite")

REPORT = (
    b'[{"sid":"x1","mobile":"13800138000","nationcode":"86","report_status":"SUCCESS","errmsg":"DELIVRD",'
    b'"description":"ok","user_receive_time":"2026-11-24 10:00:00"}]'
)
ACK = {"result": 0, "errmsg": "OK"}


@contextlib.contextmanager
def open_file_limit(soft: int) -> Iterator[None]:
    """This process's soft limit on open files set to `soft` (children started meanwhile inherit it)."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    if before[1] != resource.RLIM_INFINITY and before[1] < soft:
        pytest.skip(f"the hard open-file limit ({before[1]}) is below {soft}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def connect(server: ServerProcess, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset counts as the close)."""
    chunks = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def read_response(sock: socket.socket) -> bytes:
    """One whole response (headers and a Content-Length body) from a connection the server keeps open."""
    raw = b""
    while b"\r\n\r\n" not in raw or len(raw.partition(b"\r\n\r\n")[2]) < int(answer(raw)[1]["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, f"closed after {raw!r}"
        raw += chunk
    return raw


def answer(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-cased names) and body of one HTTP response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def refused_with(raw: bytes, status: int, result: int) -> dict:
    code, headers, body = answer(raw)
    assert code == status, raw
    assert headers["content-type"] == "application/json" and headers["connection"] == "close"
    data = json.loads(body)
    assert data["result"] == result and data["errmsg"]
    return data


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def post_report(server: ServerProcess, **kwargs: object) -> httpx.Response:
    return httpx.post(
        server.url + "/sms/callback", content=REPORT, headers={"content-type": "application/json"}, timeout=10, **kwargs
    )


def test_malformed_http_is_answered_400_in_json(start_server):
    server = start_server()
    for garbage in [b"GARBAGE\r\n\r\n", b"POST /sms/callback HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n"]:
        with connect(server) as sock:
            sock.sendall(garbage)
            data = refused_with(read_until_closed(sock), 400, 1011)
            assert "not valid HTTP" in data["errmsg"]
    assert post_report(server).json() == ACK


def test_too_many_headers_are_answered_431_in_json(start_server):
    server = start_server("--max-headers", "20")
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n"
    with connect(server) as sock:
        sock.sendall(request % b"".join(b"X-H%d: v\r\n" % i for i in range(19)))
        data = refused_with(read_until_closed(sock), 431, 1012)
    assert "more than 20 headers; raise it with --max-headers or DELIVRD_MAX_HEADERS" in data["errmsg"]
    with connect(server) as sock:  # 20 is fine
        sock.sendall(request % b"".join(b"X-H%d: v\r\n" % i for i in range(18)))
        assert answer(read_until_closed(sock))[0] == 200


def test_headers_over_max_header_bytes_are_answered_431_in_json(start_server):
    server = start_server("--max-header-bytes", "2k")
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 3000 + b"\r\n\r\n")
        data = refused_with(read_until_closed(sock), 431, 1012)
    assert "exceed 2048 bytes; raise it with --max-header-bytes or DELIVRD_MAX_HEADER_BYTES" in data["errmsg"]
    assert httpx.get(server.url + "/healthz", headers={"X-Big": "a" * 1800}).status_code == 200


def test_a_64_mb_header_is_refused_without_growing_memory(start_server):
    server = start_server()
    assert post_report(server).json() == ACK  # warm: the first request's allocations are not the header's
    before = rss_kib(server.proc.pid)
    piece = b"a" * 65536
    sent = 0
    with connect(server) as sock:
        try:
            sock.sendall(b"POST /sms/callback HTTP/1.1\r\nHost: x\r\nX-Huge: ")
            while sent < 64 * 1024 * 1024:
                sock.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-header, as it should be
        raw = read_until_closed(sock)
    assert sent < 64 * 1024 * 1024, "the server read the whole 64 MB header"
    if raw:
        refused_with(raw, 431, 1012)
    grew = rss_kib(server.proc.pid) - before
    assert grew < 4096, f"RSS grew by {grew} KiB"
    assert post_report(server).json() == ACK


def test_a_body_larger_than_the_header_limit_is_not_mistaken_for_headers(start_server):
    server = start_server("--max-header-bytes", "1k")
    items = json.loads(REPORT) * 2000  # ~300 KB, often in one read with its headers
    answered = httpx.post(server.url + "/sms/callback", json=items, timeout=10)
    assert answered.status_code == 200 and answered.json() == ACK


def test_a_declared_length_over_max_body_bytes_is_refused_before_the_body_is_sent(start_server):
    server = start_server("--max-body-bytes", "1k")
    with connect(server) as sock:
        sock.sendall(b"POST /sms/callback HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
        raw = b""
        while b"}" not in raw:  # head and body may come in separate packets
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
    assert raw.startswith(b"HTTP/1.1 413") and b'"result":1003' in raw


def test_keep_alive_connection_serves_request_after_request(start_server):
    server = start_server()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(5):
            assert client.post("/sms/callback", content=REPORT).json() == ACK


def test_connection_that_sends_no_headers_is_closed_after_the_header_timeout(start_server):
    server = start_server("--header-timeout", "1", "--keepalive-timeout", "1")
    with connect(server) as silent, connect(server) as slow:
        slow.sendall(b"POST /sms/callback HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        started = time.monotonic()
        assert read_until_closed(silent) == b""
        assert read_until_closed(slow) == b""
        assert time.monotonic() - started < 9  # closed by the server, not by this socket's 10 s timeout


def test_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(start_server):
    server = start_server("--keepalive-timeout", "1", "--header-timeout", "30")
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer(read_response(sock))[0] == 200
        started = time.monotonic()
        assert read_until_closed(sock) == b""
        assert time.monotonic() - started < 9  # the keep-alive timeout closed it, not the 30 s header timeout


def open_idle_and_slow(port: int, count: int, seconds: float) -> list[socket.socket]:
    """`count` connections, within `seconds`: half never send a byte, half send the start of a request."""
    socks: list[socket.socket] = []
    deadline = time.monotonic() + seconds
    while len(socks) < count and time.monotonic() < deadline:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        socks.append(sock)
    time.sleep(0.2)  # the kernel completes the handshakes
    for sock in socks[::2]:
        with contextlib.suppress(OSError):  # shed already, or still connecting
            sock.send(b"POST /sms/callback HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    return socks


def test_idle_and_slowloris_connections_beyond_the_fd_limit_do_not_lock_out_a_client(start_server):
    with open_file_limit(1024):
        server = start_server()
    assert b"at most 960 connections per process" in server.log.read_bytes()
    with open_file_limit(4096):
        socks = open_idle_and_slow(server.port, 2000, seconds=10)
        try:
            assert len(socks) == 2000
            answered = post_report(server)
            assert answered.status_code == 200 and answered.json() == ACK
        finally:
            for sock in socks:
                sock.close()
    assert server.alive()
    assert b"closed" in server.log.read_bytes() and b"idle connection(s) to admit new ones" in server.log.read_bytes()


def test_sigterm_with_a_slow_body_exits_within_the_drain_timeout(start_server):
    server = start_server("--body-timeout", "2", "--drain-timeout", "4")
    assert server.proc is not None
    got: list[bytes] = []

    def slow_client() -> None:
        with connect(server, timeout=15) as sock:
            sock.sendall(b"POST /sms/callback HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[")
            sock.settimeout(1)
            for _ in range(15):  # a byte a second, never all 100
                try:
                    got.append(sock.recv(65536) + read_until_closed(sock))
                    return
                except TimeoutError:
                    pass
                with contextlib.suppress(OSError):
                    sock.sendall(b" ")

    client = threading.Thread(target=slow_client)
    client.start()
    time.sleep(1)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(15)
    took = time.monotonic() - started
    client.join(15)
    assert code == -signal.SIGTERM
    assert took < 4 + 3, f"SIGTERM took {took:.1f} s with a 4 s drain timeout"
    assert got and got[0], "the slow client got no answer"
    status, headers, body = answer(got[0])
    assert headers["content-type"] == "application/json", got[0]
    assert (status, json.loads(body)["result"]) == (408, 1010)  # --body-timeout ended it, within the drain


def test_a_request_unanswered_when_the_drain_ends_gets_503_in_json(monkeypatch):
    """uvicorn would cancel it into a bare 500; run in-process, since delivrd's own routes always end in time."""
    monkeypatch.setenv("DELIVRD_DRAIN_TIMEOUT", "1")
    never = threading.Event()

    async def hangs(scope: dict, receive: object, send: object) -> None:
        while not never.is_set():
            await asyncio.sleep(0.05)

    port = free_port()
    config = uvicorn.Config(
        hangs, port=port, http=BoundedProtocol, lifespan="off", timeout_graceful_shutdown=1, log_level="warning"
    )
    server = uvicorn.Server(config)
    serving = threading.Thread(target=server.run)
    serving.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /sms/callback HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[]")
            time.sleep(0.2)
            server.should_exit = True
            refused_with(read_until_closed(sock), 503, 2003)
    finally:
        never.set()
        server.should_exit = True
        serving.join(10)


def delivrd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "delivrd", *args], capture_output=True, text=True, timeout=30)


def test_every_connection_option_is_a_flag_and_a_variable():
    help_text = delivrd("serve", "--help").stdout
    for option in [
        "header-timeout",
        "body-timeout",
        "keepalive-timeout",
        "max-header-bytes",
        "max-headers",
        "max-connections",
        "drain-timeout",
    ]:
        assert f"--{option}" in help_text and f"DELIVRD_{option.upper().replace('-', '_')}" in help_text


def test_a_drain_timeout_not_above_the_body_timeout_is_refused(tmp_path):
    result = delivrd("serve", "--db", str(tmp_path / "d.db"), "--body-timeout", "10", "--drain-timeout", "10")
    assert result.returncode == 2
    assert "--drain-timeout (10 s) must exceed --body-timeout (10 s)" in result.stderr
