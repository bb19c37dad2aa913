"""/metrics in one process: the figures it adds to the store's counters, and the directory `serve` gives its workers.

The multi-worker case (the same figures whichever worker answers) is tests/test_scaleout.py's."""

from __future__ import annotations

import os
import re
import time

from delivrd import metrics
from delivrd.domain import clock
from tests.factories import batch, body, report


def samples(client) -> dict[str, float]:
    text = client.get("/metrics").text
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line[:1] != "#"}


def test_answers_are_counted_by_route_and_result_with_their_durations(http_client):
    before = samples(http_client)
    assert http_client.post("/sms/callback", content=body(batch(0, 5))).json()["result"] == 0
    assert http_client.post("/sms/callback", content=b"[").json()["result"] == 1001
    assert http_client.get("/sms/callback").json()["result"] == 1005
    assert http_client.post("/sms/reply", content=b"[]").json()["result"] == 0
    after = samples(http_client)

    def grew(sample: str) -> float:
        return after.get(sample, 0) - before.get(sample, 0)

    assert grew('delivrd_callback_answers_total{result="0",route="callback"}') == 1
    assert grew('delivrd_callback_answers_total{result="1001",route="callback"}') == 1
    assert grew('delivrd_callback_answers_total{result="1005",route="callback"}') == 1
    assert grew('delivrd_callback_answers_total{result="0",route="reply"}') == 1
    assert grew('delivrd_callback_duration_seconds_count{route="callback"}') == 3
    assert grew('delivrd_callback_duration_seconds_bucket{le="+Inf",route="callback"}') == 3
    assert grew("delivrd_commits_total") >= 1 and grew("delivrd_committed_pushes_total") == 3  # the 405 is not kept
    assert grew("delivrd_commit_duration_seconds_count") == grew("delivrd_commits_total")
    assert after["delivrd_write_queue_capacity"] == 4096
    assert after["delivrd_write_queue_pushes"] == 0


def test_the_last_callback_and_the_last_hours_messages_come_from_the_store(client):
    assert "delivrd_last_callback_timestamp_seconds" not in client.get("/metrics").text  # nothing received yet
    items = [*batch(0, 3), report(100, report_status="FAIL", errmsg="MK:0001")]
    sent_at = clock.now_micros() / 1e6
    assert client.post("/sms/callback", content=body(items)).json()["result"] == 0
    found = samples(client)
    assert sent_at - 1 <= found["delivrd_last_callback_timestamp_seconds"] <= sent_at + 60
    assert found['delivrd_messages_last_hour{state="delivered",category="delivered"}'] == 3
    failed = {name: n for name, n in found.items() if 'state="failed"' in name}
    assert sum(failed.values()) == 1 and re.search(r'category="[a-z_]+"', next(iter(failed))), failed
    assert found['delivrd_messages_last_hour{state="pending",category=""}'] == 0  # every state shown, zero too
    assert found["delivrd_reports_total"] == 4


def test_a_dead_processs_queue_is_forgotten_its_counts_kept(tmp_path):
    """A worker killed with pushes queued: its queue no longer shows, what it counted still does."""
    directory = os.environ[metrics.DIRECTORY_VARIABLE]
    dead = 2**22 + 12345  # above any pid the kernel hands out by default
    for kind in ("gauge_livemax", "counter"):
        (tmp_path / f"{kind}_{dead}.db").write_bytes(b"")
    metrics._forget_dead_processes(str(tmp_path))
    assert not (tmp_path / f"gauge_livemax_{dead}.db").exists()
    assert (tmp_path / f"counter_{dead}.db").exists()
    assert any(name.startswith("gauge_livemax_") for name in os.listdir(directory))  # this process's stays


def test_serve_gives_its_workers_a_fresh_directory(monkeypatch):
    from delivrd.cli import serve

    monkeypatch.setenv(metrics.DIRECTORY_VARIABLE, "/somewhere/an/earlier/run/left")
    serve._metrics_directory()
    made = os.environ[metrics.DIRECTORY_VARIABLE]
    assert made != "/somewhere/an/earlier/run/left" and os.listdir(made) == []
    os.rmdir(made)


def test_each_endpoint_has_its_figures_labelled_by_its_id(app):
    client = app.client
    assert not any(name.startswith("delivrd_endpoint_") for name in samples(client))  # no endpoint, no series
    added = client.post("/v1/endpoints", json={"url": "http://127.0.0.1:9/x"})
    assert added.status_code == 201, added.text
    endpoint_id = added.json()["id"]
    label = f'{{endpoint="{endpoint_id}"}}'
    assert client.post("/sms/callback", content=body(batch(0, 1))).json()["result"] == 0
    # nothing listens at that URL: the event waits for its first attempt or for another one, never delivered.
    # On PostgreSQL an event counts once no older transaction runs (any test's, on the shared server): awaited.
    deadline = time.monotonic() + 30
    while True:
        found = samples(client)
        waiting = found[f"delivrd_endpoint_lag_events{label}"] + found[f"delivrd_endpoint_retrying_events{label}"]
        if waiting or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert waiting == 1
    assert found[f"delivrd_endpoint_lag_seconds{label}"] >= 0
    assert found[f"delivrd_endpoint_delivered_total{label}"] == 0
    assert found[f"delivrd_endpoint_failed_events_total{label}"] == 0
    assert found[f"delivrd_endpoint_failed_attempts_total{label}"] >= 0
    assert found[f"delivrd_endpoint_disabled{label}"] == 0
    app.run(lambda: app.asgi.store.set_endpoint_state(endpoint_id, "disabled", "by the test"))
    found = samples(client)
    assert (found[f"delivrd_endpoint_disabled{label}"], found[f"delivrd_endpoint_up{label}"]) == (1, 0)
