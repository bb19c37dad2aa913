"""The ASGI application: callback routes on a direct path, everything else through Starlette."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from delivrd import dashboard, logs, openapi, providers
from delivrd.config import Settings
from delivrd.domain import results
from delivrd.domain.retention import retention_cutoff
from delivrd.domain.unsubscribe import Classifier
from delivrd.forward import live
from delivrd.forward import routes as endpoint_api
from delivrd.forward.dispatch import Dispatcher
from delivrd.query import erasure as erasure_api
from delivrd.query import http as api
from delivrd.query import insight as insight_api
from delivrd.query import optouts as optout_api
from delivrd.query import scrape
from delivrd.store import StoreError, open_store
from delivrd.wire import callbacks, serving
from delivrd.writer.group_commit import Writer
from delivrd.writer.optouts import ReplyOptOuts

log = logging.getLogger("delivrd.app")

#: callbacks answered at once from which they count as queuing (a steady load has one or two at a time)
QUEUING = 8
#: how often a serving process creates partitions ahead and applies retention
UPKEEP_SECONDS = 3600


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: results.NOT_FOUND, 405: results.METHOD_NOT_ALLOWED}.get(exc.status_code, results.BAD_PARAMETER)
    return Response(
        results.error_body(code, f"{request.method} {request.url.path}: {exc.detail}"),
        status_code=exc.status_code,
        headers=exc.headers,  # a 405's Allow
        media_type="application/json",
    )


class Delivrd:
    """One delivrd process: a store, its writer, and the routes over them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = open_store(settings.db, settings.database_url, migrate=settings.migrate)
        self.writer: Writer | None = None
        self.live = live.Feed(self.store)
        self.stopping = asyncio.Event()  # set when shutdown begins: long polls answer, live streams end
        self.dispatcher = Dispatcher(
            self.store, settings.retry_schedule, settings.no_receipt_after, busy=self.ingesting
        )
        self.optouts = ReplyOptOuts(self.store, Classifier(settings.optout_keywords, settings.resubscribe_keywords))
        self.refusals = logs.Limited(callbacks.log)
        self.callbacks = callbacks.routes(
            self._writer,
            provider=providers.default(),
            token=settings.callback_token,
            max_body_bytes=settings.max_body_bytes,
            body_timeout=settings.body_timeout,
            allow=settings.callback_allow,
            trusted_proxies=settings.trusted_proxies,
            refusals=self.refusals,
        )
        spec = msgspec.json.encode(openapi.document(api_key=settings.api_key is not None))
        self.web = Starlette(
            routes=api.one_route_per_path(
                [
                    *api.routes(settings.api_key),
                    *insight_api.routes(
                        settings.api_key,
                        settings.no_receipt_after,
                        settings.max_body_bytes,
                        settings.default_country,
                        timezone=settings.timezone,
                    ),
                    *endpoint_api.routes(settings.api_key),
                    *optout_api.routes(settings.api_key, settings.default_country),
                    *live.routes(settings.api_key),
                    *erasure_api.routes(settings.api_key, settings.default_country),
                    *dashboard.routes(settings.api_key, settings.no_receipt_after),
                    *scrape.routes(settings.no_receipt_after),
                    Route("/openapi.json", lambda request: Response(spec, media_type="application/json")),
                ]
            ),
            exception_handlers={HTTPException: _http_error},
            lifespan=self._lifespan,
        )
        self.web.state.refused_callbacks = self.refused_callbacks  # what the dashboard warns of
        self.web.state.viewer_key = settings.viewer_key  # every endpoint's second key (query.http.endpoint)

    def refused_callbacks(self) -> int:
        """Callback requests refused for who sent them (no token or a wrong one, a source not allowed) since
        this process started: never stored, so counted here."""
        return sum(route.refused[code] for route in self.callbacks.values() for code in callbacks.WHO_SENT_IT)

    def ingesting(self) -> bool:
        """Whether callbacks are queuing (more being answered at once than a steady load has): forwarding yields
        to them, so a saturating load keeps its speed, while a steady one does not hold events back."""
        return sum(route.in_flight for route in self.callbacks.values()) >= QUEUING

    def _writer(self) -> Writer:
        assert self.writer is not None, "the writer starts with the lifespan"
        return self.writer

    def shutting_down(self) -> None:
        """The server begins its graceful shutdown: what waits for events ends, so the drain does not wait on it."""
        self.stopping.set()
        self.live.close()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[dict[str, Any]]:
        await self.store.open()
        await self.upkeep()  # before serving, so retention has been applied once a server answers
        await self._apply_replies()  # replies stored while stopped are on the opt-out list before serving
        self.writer = Writer(self.store)
        self.writer.start()
        app.state.store = self.store
        app.state.writer = self.writer
        app.state.live = self.live
        app.state.stopping = self.stopping
        upkeep = asyncio.get_running_loop().create_task(self._upkeep_forever(), name="delivrd-upkeep")
        self.dispatcher.start()  # beside ingest, never in its way: an ack does not wait for any consumer
        self.optouts.start()
        try:
            yield {serving.SHUTDOWN_HOOK: self.shutting_down}  # uvicorn's protocol calls it (lifespan state)
        finally:
            self.shutting_down()
            upkeep.cancel()
            await self.dispatcher.close()
            await self.optouts.close()
            await self.writer.close()
            await self.store.close()
            self.refusals.flush()  # what the limit left out, said before exiting

    async def upkeep(self) -> None:
        """Partitions ahead (PostgreSQL) and retention; a failure is logged and tried again next time."""
        try:
            await self.store.maintain()
            if self.settings.retention_days:
                removed = await self.store.prune(retention_cutoff(self.settings.retention_days))
                if any(removed.values()):
                    kept = self.settings.retention_days
                    log.info(
                        "retention (%d days) removed %s", kept, ", ".join(f"{n} {t}" for t, n in removed.items() if n)
                    )
            if self.settings.inbox_retention_days:
                dropped = await self.store.drop_inbox_bodies(retention_cutoff(self.settings.inbox_retention_days))
                if dropped:
                    log.info("inbox retention (%d days) dropped %d bodies", self.settings.inbox_retention_days, dropped)
        except StoreError as exc:
            log.error("upkeep failed (will retry in %ds): %s", UPKEEP_SECONDS, exc)

    async def _apply_replies(self) -> None:
        try:
            await self.optouts.catch_up()
        except StoreError as exc:
            log.error("applying replies to the opt-out list failed (will retry): %s", exc)

    async def _upkeep_forever(self) -> None:
        while True:
            await asyncio.sleep(UPKEEP_SECONDS)
            await self.upkeep()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            route = self.callbacks.get(scope["path"])
            if route is not None:
                return await route(scope, receive, send)
        await self.web(scope, receive, send)


def create() -> Delivrd:
    """The app from DELIVRD_* variables: what `delivrd serve` runs in each worker process."""
    settings = Settings.from_env()
    logs.configure(settings.log_level, settings.log_format)
    return Delivrd(settings)
