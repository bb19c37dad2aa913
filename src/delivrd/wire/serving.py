"""Bounded HTTP connections: uvicorn's httptools protocol with the limits it lacks.

uvicorn keeps a connection that never sends its headers forever, lets httptools
buffer headers of any size and number, and accepts connections until the process
runs out of file descriptors, at which point nobody is served. `BoundedProtocol`
adds a header deadline, header size and count limits, and a cap on connections that
sheds the oldest idle one to admit a new one; it answers what it refuses in JSON,
like every other delivrd answer. All that knows uvicorn's internals is here:
`delivrd serve` calls `run()`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
import weakref
from collections import OrderedDict
from typing import Any

import httptools
import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from delivrd import logs
from delivrd.config import Settings
from delivrd.domain import results

log = logging.getLogger("delivrd.wire.serving")

#: file descriptors kept from connections for the store's files and sockets, logs and the event loop
FD_RESERVE = 64
#: how uvicorn, in this process and in each --workers process, finds the protocol
PROTOCOL = "delivrd.wire.serving:BoundedProtocol"
#: seconds between two warnings that connections are being shed
SHED_REPORT_EVERY = 60.0
#: the app's lifespan state may hold a callable under this name: called when the graceful shutdown begins, so
#: responses that last (live event streams, long polls) end at once instead of holding the drain to its timeout
SHUTDOWN_HOOK = "delivrd.shutting_down"


def fd_limit() -> int | None:
    """This process's soft limit on open files (None: unlimited)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def connection_cap(max_connections: int) -> int:
    """--max-connections, lowered to fit under the file-descriptor limit less FD_RESERVE."""
    limit = fd_limit()
    return max_connections if limit is None else max(1, min(max_connections, limit - FD_RESERVE))


class Refused(Exception):
    """Raised in a parser callback to stop reading a request that breaks a limit."""


class Connections:
    """One server's limits, and its connections waiting for a request, oldest first: these expire, and are shed.

    One sweep every `tick` closes the overdue, instead of a timer per request as uvicorn's keep-alive has.
    """

    def __init__(self, settings: Settings, loop: asyncio.AbstractEventLoop) -> None:
        self.header_timeout = settings.header_timeout
        self.keepalive_timeout = settings.keepalive_timeout
        self.drain_timeout = settings.drain_timeout
        self.max_header_bytes = settings.max_header_bytes
        self.max_headers = settings.max_headers
        self.cap = connection_cap(settings.max_connections)
        self.loop = loop
        #: → since when (loop time): the connection's start, or the end of its last response
        self.waiting: OrderedDict[BoundedProtocol, float] = OrderedDict()
        self.tick = min(1.0, max(0.05, min(self.header_timeout, self.keepalive_timeout) / 10))
        self._shed = 0
        self._next_report = 0.0
        loop.call_later(self.tick, self._sweep)

    def admit(self, conn: BoundedProtocol, open_now: int) -> None:
        """A new connection: over the cap, the oldest waiting one (or, if none, this one) is closed."""
        self.waiting[conn] = self.loop.time()
        if open_now <= self.cap:
            return
        oldest, _ = self.waiting.popitem(last=False)
        oldest.close()
        self._shed += 1
        now = self.loop.time()
        if now >= self._next_report:
            log.warning(
                "at the connection cap (%d): closed %d idle connection(s) to admit new ones", self.cap, self._shed
            )
            self._shed, self._next_report = 0, now + SHED_REPORT_EVERY

    def _sweep(self) -> None:
        """Close the connections past the header timeout, or kept alive and silent past the keep-alive timeout."""
        now = self.loop.time()
        newest_due = now - min(self.header_timeout, self.keepalive_timeout)
        overdue = []
        for conn, since in self.waiting.items():
            if since > newest_due:
                break
            if now - since > self.header_timeout or (conn.kept and now - since > self.keepalive_timeout):
                overdue.append(conn)
        for conn in overdue:
            del self.waiting[conn]
            conn.close()
        self.loop.call_later(self.tick, self._sweep)


_registries: weakref.WeakKeyDictionary[ServerState, Connections] = weakref.WeakKeyDictionary()


def _connections(state: ServerState, loop: asyncio.AbstractEventLoop) -> Connections:
    """The registry of the server `state` belongs to, made at its first connection from the DELIVRD_* settings."""
    found = _registries.get(state)
    if found is None:
        found = _registries[state] = Connections(Settings.from_env(), loop)
    return found


class BoundedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, held to the limits of its server's `Connections`."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.bounds = _connections(server_state, self.loop)
        self.max_header_bytes = self.bounds.max_header_bytes
        self.max_headers = self.bounds.max_headers
        self.waiting = self.bounds.waiting
        self.kept = False  # kept alive after a response, and nothing received since
        self.in_head = True  # from a request's end (or the connection's start) to the end of the next one's headers
        self.head_bytes = 0  # bytes received meanwhile: the request line and headers, and at most one read beyond
        self.refusal: tuple[int, str] | None = None  # why a parser callback stopped the parser

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.bounds.admit(self, len(self.connections))

    def connection_lost(self, exc: Exception | None) -> None:
        self.waiting.pop(self, None)
        super().connection_lost(exc)

    def close(self) -> None:
        """Close now, and stop counting this connection against the cap at once."""
        self.connections.discard(self)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.kept = False
        if self.in_head:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # no WebSocket here (run() passes ws="none"): the request was served as plain HTTP
        except httptools.HttpParserError as exc:
            self.refuse(*(self.refusal or (results.BAD_HTTP, f"the request is not valid HTTP/1.1: {exc}")))
            return
        if self.in_head and (self.head_bytes > self.max_header_bytes or len(self.headers or ()) > self.max_headers):
            self.refuse(*self._too_large())

    def _too_large(self) -> tuple[int, str]:
        if self.headers is not None and len(self.headers) > self.max_headers:
            return results.HEADERS_TOO_LARGE, (
                f"the request has more than {self.max_headers} headers; raise it with {results.setting('max_headers')}"
            )
        return results.HEADERS_TOO_LARGE, (
            f"the request line and headers exceed {self.max_header_bytes} bytes;"
            f" raise it with {results.setting('max_header_bytes')}"
        )

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.waiting.pop(self, None)
        # head_bytes may count the start of the body too: only then is the head itself measured
        if len(self.headers) > self.max_headers or (
            self.head_bytes > self.max_header_bytes and self._head_size() > self.max_header_bytes
        ):
            self.refusal = self._too_large()
            raise Refused
        super().on_headers_complete()

    def _head_size(self) -> int:
        """The request line and headers' size as parsed (within a few bytes of what was sent)."""
        return len(self.url) + 16 + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def on_message_complete(self) -> None:
        self.in_head, self.head_bytes = True, 0
        super().on_message_complete()

    def on_response_complete(self) -> None:
        """uvicorn's, with the keep-alive timer left to `Connections`' sweep."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self.kept = True
            self.waiting[self] = self.loop.time()

    def shutdown(self) -> None:
        hook = self.app_state.get(SHUTDOWN_HOOK)
        if hook is not None:
            hook()
        super().shutdown()
        if not self.transport.is_closing():  # a request under way: uvicorn cancels it 0.1 s after the drain timeout
            self.loop.call_later(self.bounds.drain_timeout, self._drain_ended)

    def _drain_ended(self) -> None:
        """Answer in JSON what is still unanswered when the drain ends (uvicorn's answer would be a bare 500)."""
        if not self.transport.is_closing():
            self.refuse(results.SHUTTING_DOWN, "the process is shutting down and this request did not end in time")

    def refuse(self, code: int, message: str) -> None:
        """Answer `code` in JSON, unless a response is under way, and close: this connection cannot go on."""
        cycle = self.cycle
        if not self.pipeline and (cycle is None or cycle.response_complete or not cycle.response_started):
            body = results.error_body(code, message)
            head = [STATUS_LINE[results.status_of(code)]]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            head.append(
                b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body)
            )
            self.transport.write(b"".join(head) + body)
        log.debug("refused %s: %s", self.client, message)
        self.close()


def address_problem(host: str, port: int) -> tuple[str, str] | None:
    """Why `host`:`port` cannot be listened on, as (what is wrong, the setting to change); None when it can.

    Tried by binding as uvicorn will (every address `host` resolves to, SO_REUSEADDR) before anything is
    created, so that a port in use is one line and no database, rather than uvicorn's log and exit status 3.
    """
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot resolve the host {host!r} ({exc.strerror})", "host"
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return f"{host}:{port} is already in use", "port"
                if exc.errno == errno.EACCES:
                    return f"port {port} needs privileges to listen on (ports below 1024)", "port"
                if exc.errno == errno.EADDRNOTAVAIL:
                    return f"{host} is not an address of this machine", "host"
                return f"cannot listen on {host}:{port} ({exc.strerror})", "port"
    return None


def run(settings: Settings) -> None:
    """Serve delivrd's app on uvicorn within `settings`' bounds (each --workers process reads them from DELIVRD_*)."""
    cap = connection_cap(settings.max_connections)
    log.info(
        "at most %d connections per process (--max-connections %d, open-file limit %s less %d kept for storage and logs)",
        cap,
        settings.max_connections,
        fd_limit() or "unlimited",
        FD_RESERVE,
    )
    uvicorn.run(
        "delivrd.app:create",
        factory=True,
        workers=settings.workers,
        host=settings.host,
        port=settings.port,
        http=PROTOCOL,
        ws="none",
        loop="uvloop",
        lifespan="on",
        access_log=False,
        log_level=settings.log_level,
        log_config=logs.config(settings.log_level, settings.log_format),  # uvicorn's lines in delivrd's format
        proxy_headers=False,  # the callback routes read X-Forwarded-For themselves, from --trusted-proxies only
        timeout_graceful_shutdown=settings.drain_timeout,  # type: ignore[arg-type]
    )
