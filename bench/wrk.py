"""Drive a server with wrk (pinned to its own core) and read back what push.lua counted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("push.lua")


@dataclass(frozen=True, slots=True)
class Load:
    """What one wrk run did, as push.lua reported it."""

    seconds: float
    requests: int  # answered requests
    acked: int  # answered 200 with "result":0
    batch: int
    errors: dict[str, int]
    latency_us: dict[str, float]

    @property
    def acked_reports(self) -> int:
        return self.acked * self.batch

    @property
    def requests_per_s(self) -> float:
        return self.acked / self.seconds

    @property
    def reports_per_s(self) -> float:
        return self.acked_reports / self.seconds

    @property
    def failed(self) -> int:
        """Answers that were not acks, plus connection-level errors."""
        return self.requests - self.acked + sum(self.errors.values()) - self.errors.get("status", 0)


def available() -> str | None:
    """None when wrk and taskset are here; otherwise what is missing."""
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    return f"missing {', '.join(missing)} (apt-get install -y wrk util-linux)" if missing else None


def run(
    url: str,
    *,
    batch: int,
    seconds: float,
    run_id: str,
    connections: int = 64,
    core: int = 1,
    gap_ms: float = 0.0,
    path: str = "/sms/callback",
) -> Load:
    """wrk for `seconds` against `url` with `connections` connections, on CPU `core`.

    gap_ms > 0 paces each connection (see push.lua) for a fixed offered rate.
    """
    env = {
        **os.environ,
        "BENCH_BATCH": str(batch),
        "BENCH_RUN": run_id,
        "BENCH_PATH": path,
        "BENCH_GAP_MS": f"{gap_ms:.4f}",
    }
    timeout_s = max(2, int(seconds) + 2)
    cmd = [
        "taskset",
        "-c",
        str(core),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(SCRIPT),
        url,
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line.removeprefix("BENCH_JSON "))
            break
    else:
        raise RuntimeError(f"wrk gave no summary (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return Load(
        seconds=data["duration_us"] / 1e6,
        requests=data["answered"],
        acked=data["acked"],
        batch=batch,
        errors=data["errors"],
        latency_us=data["latency_us"],
    )
