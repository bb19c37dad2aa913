"""The ASGI application: callback routes on a direct path, everything else through Starlette."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from delivrd import api, callbacks, dashboard, insight_api, openapi, results
from delivrd.config import Settings
from delivrd.store import open_store
from delivrd.writer import Writer


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: results.NOT_FOUND, 405: results.METHOD_NOT_ALLOWED}.get(exc.status_code, results.BAD_PARAMETER)
    return Response(
        results.error_body(code, f"{request.method} {request.url.path}: {exc.detail}"),
        status_code=exc.status_code,
        media_type="application/json",
    )


class Delivrd:
    """One delivrd process: a store, its writer, and the routes over them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = open_store(settings.db, settings.database_url, migrate=settings.migrate)
        self.writer: Writer | None = None
        self.callbacks = callbacks.routes(
            self._writer, token=settings.callback_token, max_body_bytes=settings.max_body_bytes
        )
        spec = msgspec.json.encode(openapi.document())
        self.web = Starlette(
            routes=[
                *api.routes(settings.api_key),
                *insight_api.routes(settings.api_key, settings.no_receipt_after, settings.max_body_bytes),
                *dashboard.routes(settings.api_key),
                Route("/openapi.json", lambda request: Response(spec, media_type="application/json")),
            ],
            exception_handlers={HTTPException: _http_error},
            lifespan=self._lifespan,
        )

    def _writer(self) -> Writer:
        assert self.writer is not None, "the writer starts with the lifespan"
        return self.writer

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.store.open()
        self.writer = Writer(self.store)
        self.writer.start()
        app.state.store = self.store
        app.state.writer = self.writer
        try:
            yield
        finally:
            await self.writer.close()
            await self.store.close()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            route = self.callbacks.get(scope["path"])
            if route is not None:
                return await route(scope, receive, send)
        await self.web(scope, receive, send)
