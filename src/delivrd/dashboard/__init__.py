"""The web dashboard at `/`: a static page that renders the `/v1` JSON API in the browser.

The page holds no data of its own: every number it shows comes from a `/v1` route (its
JSON twin), fetched with relative URLs so that it works under a reverse-proxy prefix.
"""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from delivrd.dashboard import activity

STATIC = Path(__file__).parent / "static"

#: Files the dashboard serves, fixed at import: a request can name nothing else.
ASSETS = {path.relative_to(STATIC).as_posix(): path for path in STATIC.rglob("*") if path.is_file()}

#: The page talks to its own origin only; nothing loads from anywhere else.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def page(request: Request) -> Response:
    return FileResponse(ASSETS["index.html"], headers=HEADERS, media_type="text/html; charset=utf-8")


async def asset(request: Request) -> Response:
    path = ASSETS.get(request.path_params["name"])
    if path is None or path.name == "index.html":
        raise HTTPException(404, "no such dashboard file")
    return FileResponse(path, headers=HEADERS)


def routes(api_key: str | None, no_receipt_after: int) -> list[Route]:
    return [
        Route("/", page, methods=["GET", "HEAD"]),
        Route("/assets/{name:path}", asset, methods=["GET", "HEAD"]),
        *activity.routes(api_key, no_receipt_after),
    ]
