"""Waiting for a `delivrd serve` (or any server with /healthz) that was just started as a child process.

The benchmark, the fuzz harness and the test suite each start servers; this is the one wait they share.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx


class NotHealthy(RuntimeError):
    """The process exited, or did not answer GET /healthz in time; the message ends with its log."""


def wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float, poll: float = 0.05) -> None:
    """Return once `url`/healthz answers 200; NotHealthy when the process exits first or `timeout` passes
    (then the caller stops it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NotHealthy(f"delivrd exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(poll)
    raise NotHealthy(f"delivrd did not become healthy within {timeout:g}s:\n{log.read_text(errors='replace')}")
