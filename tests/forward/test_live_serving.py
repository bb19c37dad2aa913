"""Live streams and long polls under `delivrd serve`: SIGTERM ends them at once rather than holding the drain.

A real process, since uvicorn's graceful shutdown is the point: it waits for every open response before the
app's lifespan ends, so a stream that did not end itself would keep the process up until --drain-timeout."""

from __future__ import annotations

import threading

import httpx

from tests.factories import report

#: far longer than `stop` waits: the process ends before it only if the streams end themselves
DRAIN = "120"


def test_sigterm_ends_open_streams_and_long_polls_and_the_process_exits_cleanly(start_server):
    server = start_server("--drain-timeout", DRAIN)
    polled: list[httpx.Response] = []
    with httpx.Client(base_url=server.url, timeout=60) as client:
        poll = threading.Thread(
            target=lambda: polled.append(client.get("/v1/messages/2019:none", params={"wait": "60"}))
        )
        with client.stream("GET", "/v1/events") as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert next(lines).startswith("retry: ")
            assert client.post("/sms/callback", json=[report(1)]).json()["result"] == 0
            while not next(lines).startswith("data: "):
                pass
            poll.start()
            assert server.stop(timeout=30), server.log.read_text()[-3000:]
            rest = list(lines)  # the stream ended: the server closed it cleanly
        poll.join(30)
    assert not any(line.startswith("data: ") for line in rest)
    assert polled and polled[0].status_code == 404  # answered at shutdown with what is known: nothing for that sid
