"""Shared fixtures: a real `delivrd serve` process on a free port, talked to over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """One `delivrd serve` child process; restartable on the same database."""

    def __init__(self, db: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.db = db
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = db.with_suffix(".log")

    def start(self, timeout: float = 20.0) -> "ServerProcess":
        cmd = [sys.executable, "-m", "delivrd", "serve", "--port", str(self.port), "--db", str(self.db), *self.args]
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"delivrd exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"delivrd did not become healthy:\n{self.log.read_text()}")

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
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> "ServerProcess":
        self.kill()
        return self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture
def start_server(tmp_path):
    """Factory: start_server(*extra_args, env=None, db=None) -> ServerProcess (killed at teardown)."""
    started: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, db: Path | None = None) -> ServerProcess:
        server = ServerProcess(db or tmp_path / f"delivrd-{len(started)}.db", *args, env=env)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def server(start_server) -> ServerProcess:
    """A running delivrd with default settings on a fresh database."""
    return start_server()


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c
