"""Shared fixtures: delivrd in this process for the HTTP contract, a `delivrd serve` process where that is the point.

Every test that uses `backend` (and so `start_app`, `app`, `client`, `start_server`, `server`) runs once on
SQLite and once on PostgreSQL; `--backend sqlite` (or postgresql) picks one. On PostgreSQL each database a
test asks for is a fresh schema, dropped at teardown. Checks that never reach the store (parameter
validation, the API key, the OpenAPI document, routing) use `start_http_app`/`http_client`: SQLite only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.databases import BACKENDS, Backend, require_postgres
from tests.servers import InProcessApp, ServerProcess


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


@pytest.fixture
def backend(request):
    """The store under test ("sqlite" or "postgresql"), parametrised by `pytest_generate_tests`."""
    if request.param == "postgresql":
        require_postgres()
    chosen = Backend(request.param)
    yield chosen
    chosen.drop()


StartApp = Callable[..., InProcessApp]


def _app_factory(tmp_path: Path, backend: Backend) -> Iterator[StartApp]:
    started: list[InProcessApp] = []

    def start(db: Path | None = None, **settings: Any) -> InProcessApp:
        db = db or tmp_path / f"delivrd-{len(started)}.db"
        app = InProcessApp(db, backend.database_url(db), **settings)
        started.append(app)
        return app

    yield start
    for app in reversed(started):
        app.close()


@pytest.fixture
def start_app(tmp_path, backend) -> Iterator[StartApp]:
    """Factory: start_app(db=None, **settings) -> InProcessApp (closed at teardown); settings are
    `delivrd.config.Settings` fields (api_key="k", max_body_bytes=1024…). A fresh database unless `db`
    names one used before."""
    yield from _app_factory(tmp_path, backend)


@pytest.fixture
def app(start_app) -> InProcessApp:
    """delivrd with default settings on a fresh database, in this process."""
    return start_app()


@pytest.fixture
def client(app):
    """An httpx.Client of `app`."""
    return app.client


@pytest.fixture
def start_http_app(tmp_path) -> Iterator[StartApp]:
    """`start_app` for checks that never reach the store: on SQLite only, whatever --backend says."""
    yield from _app_factory(tmp_path, Backend("sqlite"))


@pytest.fixture
def http_client(start_http_app):
    """A client of a default in-process delivrd, for checks that never reach the store (see `start_http_app`)."""
    return start_http_app().client


@pytest.fixture
def start_server(tmp_path, backend):
    """Factory: start_server(*extra_args, env=None, db=None) -> ServerProcess (killed at teardown).

    For what needs the process itself; each call gets a fresh database unless `db` names one used before.
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
    """A running `delivrd serve` with default settings on a fresh database."""
    return start_server()
