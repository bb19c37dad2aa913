"""Shared fixtures: a real `delivrd serve` process on a free port, talked to over HTTP.

Every test that uses `backend` (and so `start_server`, `server`, `client`) runs once on
SQLite and once on PostgreSQL; `--backend sqlite` (or postgresql) picks one. On
PostgreSQL each database a test asks for is a fresh schema, dropped at teardown.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bench.process import NotHealthy, wait_healthy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BACKENDS = ("sqlite", "postgresql")
POSTGRES_URL = os.environ.get("DELIVRD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_addoption(parser):
    parser.addoption(
        "--backend", action="append", choices=BACKENDS, help="run backend tests on this store only (repeatable)"
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "backends(*names): run this test on these backends only")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        names = metafunc.config.getoption("backend") or list(BACKENDS)
        only = metafunc.definition.get_closest_marker("backends")
        if only is not None:
            names = [n for n in names if n in only.args]
        metafunc.parametrize("backend", names, indirect=True, scope="function")


def postgres(sql: str, *args: object) -> list:
    """Run one statement on the test PostgreSQL server (outside any test schema)."""
    import asyncpg

    async def run() -> list:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run())
    with ThreadPoolExecutor(1) as thread:  # called from async test code: a loop of its own
        return thread.submit(asyncio.run, run()).result()


_reachable: list[str | None] = []


def require_postgres() -> None:
    """Skip (fail under CI=true) when the test PostgreSQL server does not answer."""
    if not _reachable:
        try:
            postgres("SELECT 1")
            _reachable.append(None)
        except Exception as exc:  # any reason it cannot be used is a reason to skip
            _reachable.append(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    if _reachable[0] is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(_reachable[0] + " (CI=true: the PostgreSQL tests must run)")
        pytest.skip(_reachable[0])


class Backend:
    """Where a test's databases live: a SQLite file each, or a PostgreSQL schema each (dropped at teardown)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.schemas: dict[Path, str] = {}

    def database_url(self, db: Path) -> str | None:
        """None on SQLite (the file `db` is the database); on PostgreSQL the URL of `db`'s own schema."""
        if self.name == "sqlite":
            return None
        if db not in self.schemas:
            schema = f"delivrd_test_{uuid.uuid4().hex[:12]}"
            postgres(f"CREATE SCHEMA {schema}")
            self.schemas[db] = schema
        schema = self.schemas[db]
        return f"{POSTGRES_URL}?search_path={schema}&application_name={schema}"

    def drop(self) -> None:
        for schema in self.schemas.values():
            postgres(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        self.schemas.clear()


@pytest.fixture
def backend(request):
    """The store under test ("sqlite" or "postgresql"), parametrised by `pytest_generate_tests`."""
    if request.param == "postgresql":
        require_postgres()
    chosen = Backend(request.param)
    yield chosen
    chosen.drop()


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
        """The options that give another `delivrd` command this server's database (either backend)."""
        return ["--db", str(self.db), *(["--database-url", self.database_url] if self.database_url else [])]

    def start(self, timeout: float = 20.0) -> "ServerProcess":
        cmd = [sys.executable, "-m", "delivrd", "serve", "--port", str(self.port), "--db", str(self.db), *self.args]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
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

    def restart(self) -> "ServerProcess":
        self.kill()
        return self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture
def start_server(tmp_path, backend):
    """Factory: start_server(*extra_args, env=None, db=None) -> ServerProcess (killed at teardown).

    Each call gets a fresh database unless `db` names one used before (on PostgreSQL, a schema per `db`).
    """
    started: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, db: Path | None = None) -> ServerProcess:
        db = db or tmp_path / f"delivrd-{len(started)}.db"
        server = ServerProcess(db, *args, env=env, database_url=backend.database_url(db))
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
