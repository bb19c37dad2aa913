"""delivrd to test against: in this process over ASGI (the HTTP contract), or as a `delivrd serve` child
process (where the process is the point: signals, --workers, the HTTP server's own bounds, a real URL)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bench.process import NotHealthy, wait_healthy
from delivrd.app import Delivrd
from delivrd.config import Settings

T = TypeVar("T")
#: the host in-process requests name; nothing listens there
IN_PROCESS_URL = "http://delivrd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_args(db: Path, database_url: str | None) -> list[str]:
    """The options that give a `delivrd` command this database (either backend)."""
    return ["--db", str(db), *(["--database-url", database_url] if database_url else [])]


class InProcessApp:
    """delivrd's ASGI app with its lifespan running in this process: the real writer and store, no server.

    The app runs on an event loop of its own in a thread, as it would under uvicorn; `client` is a plain
    httpx.Client whose requests go to it over ASGI. `run` awaits a coroutine on that loop, where requests
    sent through `async_client()` are truly concurrent.
    """

    def __init__(self, db: Path, database_url: str | None = None, **settings: Any) -> None:
        self.db = db
        self.database_url = database_url
        self.asgi = Delivrd(Settings(db=str(db), database_url=database_url, **settings))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="delivrd-in-process", daemon=True)
        self.thread.start()
        self.lifespan = Lifespan(self.asgi)
        try:
            self.run(self.lifespan.startup)  # the store opened, upkeep run once, the writer started
        except BaseException:
            self._stop_loop()
            raise
        self.client = httpx.Client(transport=_OnLoop(self), base_url=IN_PROCESS_URL)

    def database_args(self) -> list[str]:
        return database_args(self.db, self.database_url)

    def run(self, coroutine_function: Callable[[], Awaitable[T]], timeout: float = 120.0) -> T:
        """Await `coroutine_function()` on the app's own event loop (where its store and writer live)."""

        async def call() -> T:
            return await coroutine_function()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)

    def async_client(self) -> httpx.AsyncClient:
        """A client for use inside `run`: requests to the app on its own loop."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(self.asgi), base_url=IN_PROCESS_URL)

    def close(self) -> None:
        """The lifespan's end (the writer drained, the store closed), then the loop's."""
        self.client.close()
        try:
            self.run(self.lifespan.shutdown)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        """As asyncio.run ends: what the app left running (its body-deadline watcher) cancelled, then the loop."""

        async def cancel_the_rest() -> None:
            rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_the_rest(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Lifespan:
    """The ASGI lifespan protocol, driven as a server drives it: startup before the first request, shutdown after."""

    def __init__(self, asgi: Callable[..., Awaitable[None]]) -> None:
        self.asgi = asgi

    async def startup(self) -> None:
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self.task = asyncio.get_running_loop().create_task(self.asgi(scope, self.events.get, self.answers.put))
        await self._step("startup")

    async def shutdown(self) -> None:
        await self._step("shutdown")
        await self.task

    async def _step(self, step: str) -> None:
        await self.events.put({"type": f"lifespan.{step}"})
        done = asyncio.ensure_future(self.answers.get())
        await asyncio.wait([done, self.task], return_when=asyncio.FIRST_COMPLETED)
        if not done.done():  # the app ended instead of answering: its exception says why
            done.cancel()
            self.task.result()
            raise RuntimeError(f"the app's lifespan ended during {step}")
        answer = done.result()
        if answer["type"] != f"lifespan.{step}.complete":
            raise RuntimeError(f"lifespan {step} failed: {answer.get('message', answer)}")


class _Chunks(httpx.AsyncByteStream):
    """A request body as the chunks it was given, so the app receives them one ASGI message each."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


class _OnLoop(httpx.BaseTransport):
    """httpx's ASGITransport, called from any thread and run on the app's loop."""

    def __init__(self, app: InProcessApp) -> None:
        self.app = app
        self.asgi = httpx.ASGITransport(app.asgi)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        chunks = [bytes(chunk) for chunk in request.stream]  # type: ignore[union-attr]
        request.stream = _Chunks(chunks)

        async def send() -> httpx.Response:
            response = await self.asgi.handle_async_request(request)
            body = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            return httpx.Response(response.status_code, headers=response.headers, stream=httpx.ByteStream(body))

        return self.app.run(send)


class ServerProcess:
    """One `delivrd serve` child process; restartable on the same database."""

    def __init__(
        self, db: Path, *args: str, env: dict[str, str] | None = None, database_url: str | None = None
    ) -> None:
        self.db = db
        self.database_url = database_url
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = db.with_suffix(".log")

    def database_args(self) -> list[str]:
        return database_args(self.db, self.database_url)

    def start(self, timeout: float = 20.0) -> ServerProcess:
        cmd = [sys.executable, "-m", "delivrd", "serve", "--port", str(self.port), *self.database_args(), *self.args]
        log = open(self.log, "ab")
        # its own process group, so a kill also reaches the worker processes of --workers
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        try:
            wait_healthy(self.proc, self.url, self.log, timeout)
        except NotHealthy:
            self.kill()
            raise
        return self

    def stop(self, timeout: float = 20.0) -> bool:
        """SIGTERM and wait: the graceful path. True when the process shut down cleanly.

        Like uvicorn, delivrd re-raises SIGTERM once it has drained, so a clean end is
        death by SIGTERM *after* the lifespan shutdown (writer drained, store closed) ran.
        """
        assert self.proc is not None
        before = self.log.stat().st_size
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        with open(self.log, "rb") as log:
            log.seek(before)
            said = log.read()
        return code == -signal.SIGTERM and b"Application shutdown complete" in said and b"Traceback" not in said

    def kill(self) -> None:
        """SIGKILL: the crash path."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def restart(self) -> ServerProcess:
        self.kill()
        return self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
