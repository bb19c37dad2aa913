"""The servers the benchmark runs, as data: add a row here to benchmark another configuration.

Every server runs pinned to core 0 (wrk gets core 1), in its own process group so
the whole tree (gunicorn or `--workers` children included) is measured and stopped.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE = 0
TICK = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Context:
    """What a server's command may depend on."""

    port: int
    workdir: Path  # a fresh temporary directory for this start
    postgres: str | None  # --postgres URL, if given


@dataclass(frozen=True, slots=True)
class Server:
    name: str  # the row's name; `--only NAME` picks it
    kind: str  # ceiling | naive | delivrd
    about: str  # one line for the table
    command: Callable[[Context], list[str]]
    env: Callable[[Context], dict[str, str]] = lambda ctx: {}
    #: why this server cannot run with these options (None: it can)
    skip: Callable[[Context], str | None] = lambda ctx: None
    stores: bool = False  # delivrd: verify stored == acked through /metrics after each run
    #: a server that exits at start is skipped with what it said, instead of failing the run
    optional: bool = False
    #: delivrd on PostgreSQL: the CPU time of its database sessions is measured too (`Running.database_cpu`)
    database: bool = False


def uvicorn_options() -> list[str]:
    """The HTTP server options `delivrd serve` uses, so the ceiling runs on exactly the same."""
    return ["--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]


def application_name(ctx: Context) -> str:
    """What a delivrd started on this port calls its PostgreSQL sessions, so the bench can find their backends."""
    return f"delivrd-bench-{ctx.port}"


def database_url(ctx: Context) -> str:
    """--postgres, with this start's sessions named (`application_name`)."""
    url = ctx.postgres or ""
    return f"{url}{'&' if '?' in url else '?'}application_name={application_name(ctx)}"


def _delivrd(*extra: str, backend: str = "sqlite") -> Callable[[Context], list[str]]:
    def command(ctx: Context) -> list[str]:
        where = (
            ["--database-url", database_url(ctx)]
            if backend == "postgresql"
            else ["--db", str(ctx.workdir / "delivrd.db")]
        )
        return [
            sys.executable,
            "-m",
            "delivrd",
            "serve",
            "--port",
            str(ctx.port),
            *where,
            "--log-level",
            "warning",
            *extra,
        ]

    return command


def _needs_postgres(*flags: str) -> Callable[[Context], str | None]:
    """Skip unless --postgres was given and this delivrd has the flags (PostgreSQL and --workers come from branch pg)."""

    def skip(ctx: Context) -> str | None:
        if not ctx.postgres:
            return "needs --postgres URL"
        helptext = subprocess.run(
            [sys.executable, "-m", "delivrd", "serve", "--help"], capture_output=True, text=True
        ).stdout
        missing = [flag for flag in flags if flag not in helptext]
        return f"this delivrd has no {', '.join(missing)} yet" if missing else None

    return skip


SERVERS: list[Server] = [
    Server(
        "ceiling",
        "ceiling",
        "bare ASGI app: reads the body, answers OK (uvicorn, same options as delivrd)",
        lambda ctx: [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.apps.ceiling:app",
            "--port",
            str(ctx.port),
            *uvicorn_options(),
        ],
    ),
    Server(
        "ceiling-granian",
        "ceiling",
        "the same bare app on granian (Rust HTTP server): is uvicorn the right choice?",
        lambda ctx: [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(ctx.port),
            "--loop",
            "uvloop",
            "--no-ws",
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
            "bench.apps.ceiling:app",
        ],
    ),
    Server(
        # 3 sync workers: gunicorn's advice (2 x cores + 1) for the one core it gets; 1 worker measured
        # no better or worse within the noise (SQLite serialises the writers either way)
        "naive",
        "naive",
        "Flask + sqlite3, one commit per request (WAL, synchronous=FULL), gunicorn -w 3",
        lambda ctx: [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "3",
            "--bind",
            f"127.0.0.1:{ctx.port}",
            "--log-level",
            "warning",
            "bench.apps.naive:app",
        ],
        env=lambda ctx: {"BENCH_NAIVE_DB": str(ctx.workdir / "naive.db")},
    ),
    Server("delivrd-sqlite", "delivrd", "delivrd serve on SQLite (WAL, synchronous=FULL)", _delivrd(), stores=True),
    Server(
        "delivrd-pg",
        "delivrd",
        "delivrd serve on PostgreSQL, 1 process",
        _delivrd("--migrate", backend="postgresql"),
        skip=_needs_postgres("--database-url"),
        stores=True,
        optional=True,
        database=True,
    ),
    Server(
        "delivrd-pg-2w",
        "delivrd",
        "delivrd serve on PostgreSQL, --workers 2",
        _delivrd("--migrate", "--workers", "2", backend="postgresql"),
        skip=_needs_postgres("--database-url", "--workers"),
        stores=True,
        optional=True,
        database=True,
    ),
]


async def _backends(url: str, name: str) -> list[int]:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = $1", name)
    finally:
        await conn.close()
    return [pid for (pid,) in rows]


def database_seconds(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    """CPU seconds the server's database backends used between two `Running.database_cpu` readings (a backend
    started in between counts from its start)."""
    if before is None or after is None:
        return None
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StartFailed(RuntimeError):
    """The server exited before it answered; `said` is the last line of its output."""

    def __init__(self, message: str, said: str) -> None:
        super().__init__(message)
        self.said = said


@dataclass(frozen=True)
class CpuTimes:
    """CPU seconds of a process tree: all threads, and the main thread of each process (for an ASGI
    server the event loop; delivrd's SQLite writer and readers are other threads)."""

    total: float
    main_thread: float

    def __add__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(self.total + other.total, self.main_thread + other.main_thread)

    def __sub__(self, earlier: CpuTimes) -> CpuTimes:
        # the kernel counts CPU time in ticks (10 ms), per process and per thread apart, and the two are read
        # one after the other: a difference can show a main thread a tick above its process, never truly
        total = self.total - earlier.total
        return CpuTimes(total, min(self.main_thread - earlier.main_thread, total))


def _cpu_times(proc: psutil.Process) -> CpuTimes:
    main = sum(t.user_time + t.system_time for t in proc.threads() if t.id == proc.pid)
    return CpuTimes(sum(proc.cpu_times()[:2]), main)  # the process read second: it includes what main had


@dataclass
class Running:
    """A started server: its process tree, URL and memory samples."""

    server: Server
    proc: subprocess.Popen
    url: str
    log: Path
    samples: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, RSS bytes of the tree)
    #: (--postgres URL, application_name) of a delivrd on PostgreSQL: where its sessions are found
    sessions: tuple[str, str] | None = None
    _stop_sampling: threading.Event = field(default_factory=threading.Event)
    _sampler: threading.Thread | None = None

    def _tree_sum(self, measure: Callable[[psutil.Process], T], zero: T) -> T:
        """`measure` summed over the server and all its children (those that exit meanwhile count `zero`)."""
        try:
            root = psutil.Process(self.proc.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return zero
        total = zero
        for proc in tree:
            try:
                total = total + measure(proc)
            except psutil.NoSuchProcess:
                pass
        return total

    def rss(self) -> int:
        """Resident memory of the server and all its children, in bytes."""
        return self._tree_sum(lambda proc: proc.memory_info().rss, 0)

    def sample(self, every: float) -> None:
        """Start recording RSS every `every` seconds (in a thread) until stop()."""

        def loop() -> None:
            while not self._stop_sampling.wait(every):
                self.samples.append((time.monotonic(), self.rss()))

        self.samples.append((time.monotonic(), self.rss()))
        self._sampler = threading.Thread(target=loop, daemon=True)
        self._sampler.start()

    @property
    def peak_rss(self) -> int:
        return max((rss for _, rss in self.samples), default=0)

    def cpu_seconds(self) -> CpuTimes:
        """User + system CPU time used so far by the server and all its children, and by their main threads."""
        return self._tree_sum(_cpu_times, CpuTimes(0.0, 0.0))

    def database_cpu(self) -> dict[int, float] | None:
        """CPU seconds so far (user + system) of each PostgreSQL backend serving this server's sessions, by pid;
        None when it has none. Read from /proc, so only for a PostgreSQL server on this machine (otherwise {})."""
        if self.sessions is None:
            return None
        url, name = self.sessions
        pids = asyncio.run(_backends(url, name))
        times = {}
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rpartition(")")[2].split()
            except OSError:  # gone meanwhile, or another machine's
                continue
            times[pid] = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
        return times

    def stored_reports(self) -> int:
        """delivrd's own count of distinct reports stored (from /metrics: works on every backend)."""
        text = httpx.get(self.url + "/metrics", timeout=10).text
        match = re.search(r"^delivrd_reports_total (\d+)$", text, re.M)
        if match is None:
            raise RuntimeError(f"{self.server.name}: /metrics has no delivrd_reports_total")
        return int(match[1])

    def settled_reports(self, timeout: float = 30.0) -> int:
        """The stored count once requests still in flight when wrk stopped have been committed."""
        last = self.stored_reports()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = self.stored_reports()
            if now == last:
                return now
            last = now
        return last

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it lingers."""
        self._stop_sampling.set()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def start(server: Server, ctx: Context, timeout: float = 30.0) -> Running:
    """Start `server` pinned to SERVER_CORE and wait until it answers GET /healthz."""
    # the delivrd beside this bench (its src/), not whichever one is installed: a copy of another commit's tree with
    # this bench in it measures that commit (A/B runs)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(ROOT), str(ROOT / "src"))), **server.env(ctx)}
    log = ctx.workdir / f"{server.name}.log"
    cmd = ["taskset", "-c", str(SERVER_CORE), *server.command(ctx)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ctx.workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    sessions = (ctx.postgres or "", application_name(ctx)) if server.database else None
    running = Running(server, proc, f"http://127.0.0.1:{ctx.port}", log, sessions=sessions)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = log.read_text(errors="replace")
            lines = output.strip().splitlines()
            raise StartFailed(
                f"{server.name} exited with {proc.returncode}:\n{output[-2000:]}",
                lines[-1] if lines else f"exit {proc.returncode}",
            )
        try:
            if httpx.get(running.url + "/healthz", timeout=1).status_code == 200:
                return running
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    running.stop()
    raise RuntimeError(f"{server.name} did not answer /healthz within {timeout:g}s:\n{log.read_text()[-2000:]}")
