"""A real webhook consumer for tests and benchmarks: an HTTP server that verifies every request it gets.

Each POST is checked with the `standardwebhooks` library, as a consumer would check it (a request that fails
is answered 401 and kept in `rejected`), then answered as the test asks: OK, or a failure for the first N
attempts of each event, or one fixed status, after an optional delay. `stop()` closes the listening socket
(connections are then refused) and `start()` opens the same port again. The server runs uvicorn on its own
event loop in a thread; the counters are read from any thread.

    with Receiver(secret) as receiver:
        sink = WebhookSink(receiver.url, secret)
        ...
        assert receiver.delivered_ids() == {...}

Also runnable on its own, for a benchmark whose receiver should not share its process:
`python -m tests.forward.receiver --secret whsec_… --port 9000`; `GET /stats` answers the counters as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
import time
from collections import Counter
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class Receiver:
    """A verifying webhook consumer on 127.0.0.1 (a free port unless one is given)."""

    def __init__(self, secret: str, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.verifier = Webhook(secret)
        self.host = host
        self.port = port or free_port()
        self.path = "/hooks/delivrd"
        # how to answer; set from any thread, read at each request
        self.fail_first = 0  #: fail a request while any of its events has been attempted at most this many times
        self.fail_status = 500
        self.status: int | None = None  #: answer every verified request with this (a 3xx with a Location)
        self.delay = 0.0  #: seconds to wait before answering (cut short by stop())
        self.answer_body: bytes | None = None  #: the body of a failing answer, instead of a short JSON error
        # what came, guarded by `lock`
        self.lock = threading.Lock()
        self.requests = 0  #: POSTs received, verified or not
        self.rejected: list[str] = []  #: why each refused request (unverified, or not events) was refused
        self.attempts: Counter[str] = Counter()  #: per event id: verified requests that carried it
        self.delivered: Counter[str] = Counter()  #: per event id: those answered 2xx
        self.webhook_ids: list[str] = []  #: the `webhook-id` of each verified request, in arrival order
        self.events: dict[str, dict[str, Any]] = {}  #: each event id's event, as last received
        self.order: list[str] = []  #: event ids as delivered (answered 2xx), repeats included
        self.last_headers: dict[str, str] = {}  #: the headers of the last verified request
        self.app = Starlette(
            routes=[Route(self.path, self.receive, methods=["POST"]), Route("/stats", self.stats, methods=["GET"])]
        )
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    # -- the server's life

    def start(self) -> Receiver:
        """Listen (again) on `port`; returns once connections are accepted."""
        if self.thread is not None:
            raise RuntimeError("the receiver is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=5
        )
        self.server = server = uvicorn.Server(config)

        async def serve() -> None:
            self.loop = asyncio.get_running_loop()
            self.stopping = asyncio.Event()
            await server.serve(sockets=[sock])

        self.thread = threading.Thread(target=asyncio.run, args=(serve(),), name="receiver", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.thread = None
                sock.close()
                raise RuntimeError(f"the receiver did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop listening and close every connection: requests to `url` are refused until `start()`."""
        server, thread, loop, stopping = self.server, self.thread, self.loop, self.stopping
        if server is None or thread is None:
            return
        server.should_exit = True
        if loop is not None and stopping is not None and not loop.is_closed():
            try:  # wake the slow answers, so the graceful shutdown does not wait for them
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop has just ended
                pass
        thread.join(15)
        self.server = self.thread = self.loop = self.stopping = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the consumer

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.requests += 1
        try:
            payload = self.verifier.verify(body, dict(request.headers))
        except WebhookVerificationError as exc:
            with self.lock:
                self.rejected.append(str(exc))
            return JSONResponse({"error": f"signature: {exc}"}, status_code=401)
        events = payload if isinstance(payload, list) else [payload]
        if not events or not all(isinstance(e, dict) and isinstance(e.get("id"), str) for e in events):
            with self.lock:
                self.rejected.append("the body is not an event, nor an array of events, each with an id")
            return JSONResponse({"error": "not an event"}, status_code=400)
        ids = [event["id"] for event in events]
        with self.lock:
            self.webhook_ids.append(request.headers["webhook-id"])
            self.last_headers = dict(request.headers)
            self.attempts.update(ids)
            status = self.status
            if status is None:
                failing = any(self.attempts[event_id] <= self.fail_first for event_id in ids)
                status = self.fail_status if failing else 200
        if self.delay > 0 and self.stopping is not None:
            try:
                await asyncio.wait_for(self.stopping.wait(), self.delay)
                return JSONResponse({"error": "shutting down"}, status_code=503)
            except TimeoutError:
                pass
        if 200 <= status < 300:
            with self.lock:
                self.delivered.update(ids)
                self.order.extend(ids)
                for event in events:
                    self.events[event["id"]] = event
            return JSONResponse({"ok": True}, status_code=status)
        # a redirect points back here: a client that followed it would be seen posting twice
        headers = {"location": self.url} if 300 <= status < 400 else None
        if self.answer_body is not None:
            return Response(self.answer_body, status_code=status, headers=headers, media_type="text/plain")
        return JSONResponse({"error": f"told to answer {status}"}, status_code=status, headers=headers)

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.snapshot())

    # -- reading what came (any thread)

    def delivered_ids(self) -> set[str]:
        with self.lock:
            return set(self.delivered)

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain numbers (what `GET /stats` answers)."""
        with self.lock:
            return {
                "requests": self.requests,
                "rejected": len(self.rejected),
                "events_delivered": sum(self.delivered.values()),
                "distinct_delivered": len(self.delivered),
                "duplicates": sum(self.delivered.values()) - len(self.delivered),
                "attempts": sum(self.attempts.values()),
            }

    def wait_for(self, ids: set[str] | int, timeout: float = 30.0) -> bool:
        """Poll until every id in `ids` (or that many distinct ids) was delivered; False if `timeout` passed."""
        deadline = time.monotonic() + timeout
        while True:
            delivered = self.delivered_ids()
            if (len(delivered) >= ids) if isinstance(ids, int) else ids <= delivered:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--secret", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    receiver = Receiver(args.secret, args.port)
    receiver.fail_first, receiver.delay = args.fail_first, args.delay
    receiver.start()
    print(f"receiving on {receiver.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()


if __name__ == "__main__":
    main()
