"""`GET /metrics`: Prometheus text, the same whichever process or instance answers.

What the store holds comes from the database (its counters, the newest inbox row, the statistics of the last hour),
so every process and every instance sharing the database reads the same figures. What a process does (answers,
durations, commits, its write queue) comes from `delivrd.metrics`, added up over this instance's processes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from delivrd import metrics as process_metrics
from delivrd.domain import clock, message_state
from delivrd.query.category import category
from delivrd.query.http import json_errors
from delivrd.store.base import ListQuery, StatsQuery, Store

#: the window of `delivrd_messages_last_hour`: recent enough to show a drop, one hour of the statistics' index to read
METRICS_WINDOW_US = clock.HOUR_US
#: the store's counters: (name in /metrics, name in the store, help); the same on every instance sharing the database
STORE_COUNTERS = (
    ("delivrd_inbox_total", "inbox", "Request bodies kept in the inbox."),
    ("delivrd_reports_total", "reports", "Distinct status reports stored."),
    ("delivrd_report_duplicates_total", "report_duplicates", "Status reports received again and recognised."),
    ("delivrd_replies_total", "replies", "Distinct reply (MO) messages stored."),
    ("delivrd_reply_duplicates_total", "reply_duplicates", "Replies received again and recognised."),
    ("delivrd_rejects_total", "rejects", "Items or bodies quarantined."),
)


#: each endpoint's figures (docs/forwarding.md): (name, type, help), labelled by endpoint id; from the database
ENDPOINT_SERIES = (
    ("delivrd_endpoint_delivered_total", "counter", "Events delivered to the endpoint (new and retried)."),
    ("delivrd_endpoint_failed_attempts_total", "counter", "Attempts to send to the endpoint that failed."),
    (
        "delivrd_endpoint_failed_events_total",
        "counter",
        "Events failed for good on the endpoint (a replay sends them).",
    ),
    ("delivrd_endpoint_lag_events", "gauge", "Events the endpoint has not been handed yet."),
    ("delivrd_endpoint_retrying_events", "gauge", "Events waiting for another attempt to the endpoint."),
    ("delivrd_endpoint_lag_seconds", "gauge", "Age of the oldest event still to go to the endpoint (0: none waits)."),
    ("delivrd_endpoint_up", "gauge", "1 while the endpoint is active and its last attempts went through, else 0."),
    ("delivrd_endpoint_disabled", "gauge", "1 once the endpoint is disabled (failing for days, or by hand), else 0."),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def routes(no_receipt_after: int) -> list[Route]:
    """`/metrics`, its messages' `pending` and `no_receipt` told apart as the statistics do (--no-receipt-after)."""

    @json_errors
    async def metrics(request: Request) -> Response:
        return await scrape(request, no_receipt_after)

    return [Route("/metrics", metrics)]


async def scrape(request: Request, no_receipt_after: int) -> Response:
    """Prometheus text: what the store holds (the database's figures, the same whichever process or instance
    answers), then this instance's processes' figures, added up over its workers (`delivrd.metrics`)."""
    store = request.app.state.store
    counters = await store.counters()
    lines = []
    for name, stored_as, help_text in STORE_COUNTERS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {counters.get(stored_as, 0)}"]
    newest = (await store.inbox(ListQuery(limit=1))).items
    if newest:
        name = "delivrd_last_callback_timestamp_seconds"
        lines += [
            f"# HELP {name} When the newest callback kept in the inbox arrived (Unix time).",
            f"# TYPE {name} gauge",
            f"{name} {newest[0].received_at / 1e6:.3f}",
        ]
    now = clock.now_micros()
    window = StatsQuery(since=now - METRICS_WINDOW_US, pending_after=now - no_receipt_after)
    messages: dict[tuple[str, str], int] = {}
    for row in await store.stats(window):
        key = (row.state, category(row.state, row.code) or "")
        messages[key] = messages.get(key, 0) + row.count
    name = "delivrd_messages_last_hour"
    lines += [
        f"# HELP {name} Messages of the last hour (by send time, else first receipt) by state and failure category.",
        f"# TYPE {name} gauge",
    ]
    for state in message_state.STATES:  # every state named: a zero is a sample, not an absent series
        if not any(key[0] == state for key in messages):
            messages[(state, "")] = 0
    for (state, kind), count in sorted(messages.items()):
        lines.append(f'{name}{{state="{_label(state)}",category="{_label(kind)}"}} {count}')
    lines += await endpoint_lines(store, now)
    text = "\n".join(lines).encode() + b"\n" + process_metrics.exposition()
    return Response(text, media_type="text/plain; version=0.0.4")


async def endpoint_lines(store: Store, now: int) -> list[str]:
    """ENDPOINT_SERIES for every endpoint (none while there is none): its row's totals and its backlog."""
    values: dict[str, list[str]] = {name: [] for name, _, _ in ENDPOINT_SERIES}
    for endpoint in await store.endpoints():
        backlog = await store.backlog(endpoint)
        lag = backlog.lag_seconds(now)
        disabled = endpoint.state == "disabled"  # the store's state column: active | disabled
        label = f'{{endpoint="{_label(endpoint.id)}"}}'
        for name, value in (
            ("delivrd_endpoint_delivered_total", endpoint.delivered),
            ("delivrd_endpoint_failed_attempts_total", endpoint.failed_attempts),
            ("delivrd_endpoint_failed_events_total", endpoint.failed_events),
            ("delivrd_endpoint_lag_events", backlog.waiting),
            ("delivrd_endpoint_retrying_events", backlog.retrying),
            ("delivrd_endpoint_lag_seconds", f"{lag:.3f}"),
            ("delivrd_endpoint_up", int(not disabled and endpoint.failing_since is None)),
            ("delivrd_endpoint_disabled", int(disabled)),
        ):
            values[name].append(f"{name}{label} {value}")
    lines = []
    for name, kind, help_text in ENDPOINT_SERIES:
        if values[name]:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *values[name]]
    return lines
