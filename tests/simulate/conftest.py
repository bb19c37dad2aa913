"""A receiver that answers from a script, over real HTTP: for the retry logic and the conformance check."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ACK = json.dumps({"result": 0, "errmsg": "OK"}).encode()


def ack(handler: BaseHTTPRequestHandler) -> None:
    answer(handler, 200, ACK)


def status(code: int, result: int = 2001) -> Callable[[BaseHTTPRequestHandler], None]:
    def reply(handler: BaseHTTPRequestHandler) -> None:
        answer(handler, code, json.dumps({"result": result, "errmsg": "try later"}).encode())

    return reply


def result(code: int) -> Callable[[BaseHTTPRequestHandler], None]:
    """HTTP 200, but a non-zero result: a refusal all the same."""
    return status(200, code)


def plain_text(handler: BaseHTTPRequestHandler) -> None:
    """What many hand-written receivers answer: 200 and the word OK, not JSON."""
    answer(handler, 200, b"OK", "text/plain")


def hang(seconds: float) -> Callable[[BaseHTTPRequestHandler], None]:
    def reply(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        ack(handler)

    return reply


def drop(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection without a word, as a crashing process does."""
    handler.close_connection = True
    handler.connection.close()


def answer(handler: BaseHTTPRequestHandler, code: int, body: bytes, kind: str = "application/json") -> None:
    try:
        handler.send_response(code)
        handler.send_header("content-type", kind)
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up waiting (the timeout test)


class ScriptedReceiver:
    """Answers request n with script[n] (the last entry repeats); keeps every body it got."""

    def __init__(self, script: list[Callable[[BaseHTTPRequestHandler], None]]) -> None:
        self.script = script
        self.bodies: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with lock:
                    n = len(receiver.bodies)
                    receiver.bodies.append(body)
                receiver.script[min(n, len(receiver.script) - 1)](self)

            def log_message(self, *args: object) -> None:
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted_receiver():
    """Factory: scripted_receiver([ack, status(503), …]) -> ScriptedReceiver (shut down at teardown)."""
    made: list[ScriptedReceiver] = []

    def make(script: list[Callable[[BaseHTTPRequestHandler], None]]) -> ScriptedReceiver:
        made.append(ScriptedReceiver(script))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()
