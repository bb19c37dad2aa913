"""What a run shows: a live panel on a terminal, a plain line now and then otherwise, a summary at the end."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from delivrd.option_types import counted
from delivrd.simulate.sender import Stats

#: How many of the latest requests the live latency figures cover.
RECENT = 2000


def _line(stats: Stats) -> str:
    elapsed = max(stats.elapsed, 1e-9)
    return (
        f"{elapsed:6.1f}s  pushed {_in_pushes(stats.reports_pushed, stats.pushes)}, "
        f"acked {stats.reports_acked}, retried {stats.retries}, "
        f"failed for good {counted(stats.pushes_failed, 'push', 'pushes')} "
        f"({stats.requests / elapsed:.0f} req/s, {stats.reports_acked / elapsed:.0f} reports/s)"
    )


class Progress:
    """Call `update(stats)` every tick; `close()` at the end. Live on a TTY, plain lines every few seconds otherwise."""

    def __init__(self, stream: TextIO | None = None, *, plain_every: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.console = Console(file=self.stream)
        self.live: Live | None = None
        if self.console.is_terminal:
            self.live = Live(console=self.console, refresh_per_second=4, transient=True)
            self.live.start()
        self.plain_every = plain_every
        self.last_plain = time.monotonic()

    def update(self, stats: Stats) -> None:
        if self.live is not None:
            # percentiles of the last requests only: sorting every latency 4 times a second would not scale
            summary = stats.summary(recent=RECENT)
            self.live.update(_table(summary, title=f"delivrd simulate (running; latency of the last {RECENT})"))
        elif time.monotonic() - self.last_plain >= self.plain_every:
            self.last_plain = time.monotonic()
            print(_line(stats), file=self.stream, flush=True)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def _in_pushes(reports: int, pushes: int) -> str:
    return f"{counted(reports, 'report')} in {counted(pushes, 'push', 'pushes')}"


_ROWS = (
    ("pushed", lambda s: _in_pushes(s["reports_pushed"], s["pushes"])),
    ("acked", lambda s: _in_pushes(s["reports_acked"], s["pushes_acked"])),
    ("retried", lambda s: counted(s["retries"], "try", "tries")),
    ("failed for good", lambda s: _in_pushes(s["reports_failed"], s["pushes_failed"])),
    (
        "injected",
        lambda s: (
            f"{s['duplicate_pushes']} duplicate, {s['malformed_pushes']} malformed, "
            f"{s['oversized_pushes']} oversized pushes"
        ),
    ),
    (
        "requests/s",
        lambda s: f"{s['requests_per_s']:,.0f} ({counted(s['requests'], 'request')} in {s['elapsed_s']:.1f} s)",
    ),
    ("reports/s", lambda s: f"{s['reports_per_s']:,.0f} acked"),
    ("latency", lambda s: "p50 {p50} ms, p90 {p90} ms, p99 {p99} ms, max {max} ms".format(**s["latency_ms"])),
    ("answers", lambda s: ", ".join(f"{k}: {v}" for k, v in s["answers"].items()) or "none"),
    ("malformed got", lambda s: ", ".join(f"{k}: {v}" for k, v in s["malformed_answers"].items()) or "none"),
    ("failures", lambda s: ", ".join(f"{k}: {v}" for k, v in s["failures"].items()) or "none"),
)


def _table(summary: dict[str, Any], title: str) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for label, show in _ROWS:
        table.add_row(label, show(summary))
    return table


def print_summary(summary: dict[str, Any], stream: TextIO | None = None) -> None:
    """The final summary: a table on a terminal, aligned `label: value` lines otherwise."""
    console = Console(file=stream or sys.stdout)
    if console.is_terminal:
        console.print(_table(summary, title=f"delivrd simulate → {summary.get('url', '')}"))
        return
    out = stream or sys.stdout
    for label, show in _ROWS:
        print(f"{label + ':':17} {show(summary)}", file=out)
    out.flush()
