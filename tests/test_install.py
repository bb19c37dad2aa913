"""The production install: the wheel `python -m build` makes holds the package and its data (and no tests), and
installed alone into a clean virtualenv, without the test or benchmark extras, it serves.

The virtualenv takes delivrd's runtime dependencies from the configured package index (pip's cache makes that
quick after the first time). The server is started from outside the repository, so nothing of the source tree
can stand in for what the wheel forgot.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from bench.process import wait_healthy
from tests.factories import batch, body
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "delivrd"
#: what only the test and benchmark extras bring; none belongs in a production install
EXTRAS_ONLY = {"pytest", "hypothesis", "playwright", "ruff", "mypy", "import-linter", "flask", "gunicorn", "granian"}


def run(*cmd: str | Path, cwd: Path | None = None, timeout: float = 300) -> str:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built as a release is: `python -m build` (the sdist, then the wheel from it, isolated)."""
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", dist, ROOT)
    (built,) = dist.glob("delivrd-*.whl")
    return built


def test_the_wheel_holds_every_module_and_file_of_the_package_and_no_tests(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    source = {
        "delivrd/" + path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert source - names == set(), "in src/delivrd but not in the wheel: declare it in [tool.setuptools.package-data]"
    data = {name for name in names if name.startswith("delivrd/") and not name.endswith(".py")}
    assert {"delivrd/providers/tencent/receipts.json", "delivrd/dashboard/static/index.html"} <= data
    assert any(name.startswith("delivrd/store/migrations/sqlite/") for name in data)
    assert any(name.startswith("delivrd/store/migrations/postgresql/") for name in data)
    assert not {name for name in names if name.split("/")[0] in ("tests", "bench")}


def test_the_wheel_alone_in_a_clean_virtualenv_serves_and_keeps_a_callback(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    run(bin_dir / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel)

    installed = {line.split("==")[0].lower() for line in run(bin_dir / "python", "-m", "pip", "freeze").split()}
    assert "delivrd" in installed
    assert installed & EXTRAS_ONLY == set()
    where = run(bin_dir / "python", "-c", "import delivrd; print(delivrd.__file__)", cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(env_dir)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DELIVRD_", "PYTHON"))}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [bin_dir / "delivrd", "serve", "--port", str(port), "--db", tmp_path / "delivrd.db"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_healthy(proc, url, log, timeout=30)
        with httpx.Client(base_url=url, timeout=10) as client:
            items = batch(0, 3)
            ack = client.post("/sms/callback", content=body(items))
            assert (ack.status_code, ack.json()) == (200, {"result": 0, "errmsg": "OK"})
            read = client.get("/v1/reports", params={"sid": items[1]["sid"]}).json()["items"]
            assert [(r["sid"], r["mobile"], r["phone"]) for r in read] == [
                (items[1]["sid"], items[1]["mobile"], "+86" + items[1]["mobile"])
            ]
            # the package data: the dashboard's files, the receipt catalogue (a code's category)
            assert client.get("/").status_code == 200
            assert client.get("/assets/vendor/uPlot.iife.min.js").status_code == 200
            assert "DELIVRD" in client.get("/v1/receipt-codes").text
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    said = log.read_text(errors="replace")
    assert code == -signal.SIGTERM and "Application shutdown complete" in said, said
    assert "Traceback" not in said, said
