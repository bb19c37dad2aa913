"""`DELETE /v1/phones/{e164}`: erase one phone number everywhere delivrd keeps it (docs/personal-data.md).

The number is read as `GET /v1/phones/{phone}` reads it (`domain.phones.read`), so what one shows the other
erases; the store does the rest (`store.base.Erasure.purge_phone`). The API key only: the viewer key is refused
every write.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.routing import Route

from delivrd.domain import phones
from delivrd.domain.erasure import MASKED_TABLES
from delivrd.query.http import BadParameter, Params, endpoint
from delivrd.store import Erasure


class Erased(msgspec.Struct):
    """What an erasure did, by table: rows `removed`, and rows kept with the number `masked` in them (messages,
    so that every count stays; rejects' text and inbox bodies, the rest of each byte for byte)."""

    phone: str
    removed: dict[str, int]
    masked: dict[str, int]


def erased(phone: str, counts: dict[str, int]) -> Erased:
    """The store's counts by table as the answer (and `delivrd purge`) says them."""
    return Erased(
        phone=phone,
        removed={table: n for table, n in counts.items() if table not in MASKED_TABLES},
        masked={table: n for table, n in counts.items() if table in MASKED_TABLES},
    )


def routes(api_key: str | None, default_country: str) -> list[Route]:
    async def purge(request: Request, store: Erasure) -> Any:
        Params(request, paged=False, window=False)
        try:
            nationcode, mobile = phones.read(request.path_params["phone"], default_country)
        except ValueError as exc:
            raise BadParameter(f"the phone in the path {exc}") from None
        return erased(f"+{nationcode}{mobile}", await store.purge_phone(nationcode, mobile))

    return [Route("/v1/phones/{phone}", endpoint(purge, api_key, viewer=False), methods=["DELETE"])]
