"""The figures each process keeps for /metrics, in files every process of one `delivrd serve` shares.

A figure kept in a process's memory is that process's alone: with `--workers 2` a scrape answered by either worker
read that worker's half (`delivrd_commits_total` 22, 0, 22, 0), which Prometheus takes for counter resets.
prometheus_client's multiprocess mode keeps each process's figures in an mmap'd file under one directory
(`PROMETHEUS_MULTIPROC_DIR`) and adds the files up at each scrape, those of exited workers included, so every worker
answers the same and a counter never goes down. `delivrd serve` makes a fresh directory before its workers start
and hands it to them in the environment; a process started otherwise (the tests, an embedding) gets a private one
here, so there is one code path. What the store holds (reports, inbox, …) is counted in the database instead, the
same for every instance sharing it: see `query/http.py`'s `metrics`.
"""

from __future__ import annotations

import atexit
import glob
import os
import re
import shutil
import tempfile

#: where prometheus_client's multiprocess mode keeps each process's figures
DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

if DIRECTORY_VARIABLE not in os.environ:  # not under `delivrd serve`: this process's own directory
    _private = tempfile.mkdtemp(prefix="delivrd-metrics-")
    atexit.register(shutil.rmtree, _private, ignore_errors=True)
    os.environ[DIRECTORY_VARIABLE] = _private

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess, values  # noqa: E402

_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)
# prometheus_client asks os.getpid() at every increment to notice a fork: a system call per figure on the hot path.
# The pid is kept instead, and renewed after a fork.
values.ValueClass = values.MultiProcessValue(process_identifier=lambda: _pid)

#: seconds: a batch-1 ack takes well under a millisecond; a commit waiting on a slow disk or PostgreSQL, seconds
_DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

CALLBACK_ANSWERS = Counter(
    "delivrd_callback_answers",
    "Answers of the callback routes, by route (callback, reply) and result code (0: stored).",
    ["route", "result"],
)
CALLBACK_DURATION = Histogram(
    "delivrd_callback_duration_seconds",
    "Time from a callback request's arrival at delivrd's route to its answer (the commit included), by route.",
    ["route"],
    buckets=_DURATION_BUCKETS,
)
COMMITS = Counter("delivrd_commits", "Group commits by this instance's processes.")
COMMITTED_PUSHES = Counter("delivrd_committed_pushes", "Requests committed by this instance's processes.")
COMMIT_DURATION = Histogram(
    "delivrd_commit_duration_seconds",
    "Time to commit one group of pushes (with the retries in halves when storage refuses one).",
    buckets=_DURATION_BUCKETS,
)
# `livemax`: the fullest queue among the processes alive (a process that exited holds no queue)
WRITE_QUEUE = Gauge(
    "delivrd_write_queue_pushes",
    "Pushes waiting to be committed in the fullest write queue (sampled at each commit and every few seconds).",
    multiprocess_mode="livemax",
)
WRITE_QUEUE_CAPACITY = Gauge(
    "delivrd_write_queue_capacity",
    "Pushes a process's write queue holds before callbacks are answered 503 (result 2001).",
    multiprocess_mode="livemax",
)

_LIVE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def _forget_dead_processes(path: str) -> None:
    """Drop the live gauges of processes that are gone (a worker killed and restarted): their queues are empty.

    prometheus_client leaves this to the server's process manager, which uvicorn's does not do."""
    for name in glob.glob(os.path.join(path, "gauge_live*.db")):
        found = _LIVE_FILE.search(name)
        if found is None:
            continue
        pid = int(found.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)
        except PermissionError:
            pass  # alive, someone else's


def exposition() -> bytes:
    """The Prometheus text of every process of this instance, alive or exited, added up."""
    path = os.environ[DIRECTORY_VARIABLE]
    _forget_dead_processes(path)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path)
    return generate_latest(registry)
