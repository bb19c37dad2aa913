"""The run's display: plain lines when not on a terminal, a live panel when on one, and the final summary."""

import io

from delivrd.simulate.progress import Progress, print_summary
from delivrd.simulate.sender import Stats


def stats() -> Stats:
    s = Stats(
        requests=12,
        pushes=10,
        reports_pushed=1000,
        pushes_acked=9,
        reports_acked=900,
        retries=2,
        pushes_failed=1,
        reports_failed=100,
    )
    s.latencies.extend([0.001 * n for n in range(1, 101)])
    s.answers.update({"200": 10, "503": 2})
    s.failures.update({"HTTP 503": 2})
    return s


def test_plain_lines_when_not_on_a_terminal():
    out = io.StringIO()
    progress = Progress(out, plain_every=0)
    progress.update(stats())
    progress.close()
    assert "pushed 1000 reports in 10 pushes, acked 900, retried 2, failed for good 1 push " in out.getvalue()
    assert "\x1b[" not in out.getvalue()


def test_a_live_panel_on_a_terminal(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then treats the stream as a terminal
    out = io.StringIO()
    progress = Progress(out)
    assert progress.live is not None
    progress.update(stats())
    progress.close()
    assert "latency of the last" in out.getvalue()


def test_the_summary_has_every_figure():
    summary = stats().summary(url="http://x")
    assert summary["latency_ms"] == {"p50": 51.0, "p90": 91.0, "p99": 100.0, "max": 100.0}
    assert stats().summary(recent=10)["latency_ms"]["p50"] == 96.0  # the last ten: 91–100 ms
    out = io.StringIO()
    print_summary(summary, out)
    text = out.getvalue()
    for label in ("pushed:", "acked:", "retried:", "failed for good:", "requests/s:", "reports/s:", "latency:"):
        assert label in text
    assert "p50 51.0 ms, p90 91.0 ms, p99 100.0 ms, max 100.0 ms" in text
