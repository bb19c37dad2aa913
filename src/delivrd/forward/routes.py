"""`/v1/endpoints`: add, list, show, remove, replay and enable endpoints (the same key as the read API)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from delivrd.domain import clock, results
from delivrd.forward import endpoints
from delivrd.forward.endpoints import DISABLED, BadEndpoint, EndpointView, FailedEvent
from delivrd.query.http import ApiError, Params, endpoint, parse_time, read_body
from delivrd.store import Store

#: endpoint definitions and replay windows are small
MAX_BODY = 64 * 1024
#: events failed for good shown with one endpoint
FAILURES_SHOWN = 20


class BadBody(ApiError):
    code = results.BAD_BODY


class NotFound(ApiError):
    code = results.NOT_FOUND


class EndpointDetail(EndpointView):
    """One endpoint, with the events most recently failed for good."""

    failures: list[FailedEvent]


class Endpoints(msgspec.Struct):
    items: list[EndpointView]


class Replay(msgspec.Struct, forbid_unknown_fields=True):
    """A time range, ISO 8601: since inclusive, until exclusive (default: now)."""

    since: str
    until: str | None = None


class Replayed(msgspec.Struct):
    """How many events were queued again, due now."""

    queued: int


class Removed(msgspec.Struct):
    id: str
    removed: bool


async def shown(store: Store, row: Any) -> EndpointView:
    retries = await store.retries(row.id, None, 1)
    return endpoints.view(row, await store.backlog(row), retries[0] if retries else None)


async def detailed(store: Store, row: Any) -> EndpointDetail:
    """`shown`, with the events most recently failed for good (`GET /v1/endpoints/{id}`, `endpoints show`)."""
    failures = [endpoints.failed_event(r) for r in await store.failures(row.id, FAILURES_SHOWN)]
    return EndpointDetail(**msgspec.structs.asdict(await shown(store, row)), failures=failures)


async def _found(store: Store, endpoint_id: str) -> Any:
    row = await store.endpoint(endpoint_id)
    if row is None:
        raise NotFound(f"no endpoint {endpoint_id!r}")
    return row


async def add(request: Request, store: Store) -> Any:
    Params(request, paged=False, window=False)
    body = await read_body(request, MAX_BODY, "an endpoint definition is a small JSON object")
    try:
        row = endpoints.new_row(endpoints.decode(body))
    except BadEndpoint as exc:
        raise BadBody(str(exc)) from None
    row = await store.add_endpoint(row)
    return Response(msgspec.json.encode(await shown(store, row)), status_code=201, media_type="application/json")


async def list_all(request: Request, store: Store) -> Any:
    Params(request, paged=False, window=False)
    return Endpoints([await shown(store, row) for row in await store.endpoints()])


async def show(request: Request, store: Store) -> Any:
    Params(request, paged=False, window=False)
    return await detailed(store, await _found(store, request.path_params["id"]))


async def remove(request: Request, store: Store) -> Any:
    Params(request, paged=False, window=False)
    endpoint_id = request.path_params["id"]
    if not await store.remove_endpoint(endpoint_id):
        raise NotFound(f"no endpoint {endpoint_id!r}")
    return Removed(endpoint_id, True)


async def replay(request: Request, store: Store) -> Any:
    Params(request, paged=False, window=False)
    row = await _found(store, request.path_params["id"])
    body = await read_body(request, MAX_BODY, "a replay is a small JSON object")
    try:
        window = msgspec.json.decode(body, type=Replay)
    except msgspec.DecodeError as exc:
        raise BadBody(f'the body is not a replay: {exc}; send {{"since": ISO 8601, "until": ISO 8601}}') from None
    now = clock.now_micros()
    since = parse_time("since", window.since)
    until = now if window.until is None else parse_time("until", window.until)
    if since >= until:
        raise BadBody("since must be before until")
    return Replayed(await store.replay(row.id, since, until, now))


async def enable(request: Request, store: Store) -> Any:
    Params(request, paged=False, window=False)
    row = await _found(store, request.path_params["id"])
    if row.state == DISABLED:
        await store.set_endpoint_state(row.id, endpoints.ACTIVE, None)
    return await shown(store, await _found(store, row.id))


def routes(api_key: str | None) -> list[Route]:
    """Endpoints carry their secrets: none of it is open to the viewer key."""
    return [
        Route("/v1/endpoints", endpoint(add, api_key, viewer=False), methods=["POST"]),
        Route("/v1/endpoints", endpoint(list_all, api_key, viewer=False), methods=["GET"]),
        Route("/v1/endpoints/{id}", endpoint(show, api_key, viewer=False), methods=["GET"]),
        Route("/v1/endpoints/{id}", endpoint(remove, api_key, viewer=False), methods=["DELETE"]),
        Route("/v1/endpoints/{id}/replay", endpoint(replay, api_key, viewer=False), methods=["POST"]),
        Route("/v1/endpoints/{id}/enable", endpoint(enable, api_key, viewer=False), methods=["POST"]),
    ]
