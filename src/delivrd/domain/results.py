"""Every answer's `result` code in one table: the callback acks and the API's errors share it.

`result` 0 is the only success. The codes are part of the HTTP contract (README,
"Result codes"): callers may branch on them, so a code never changes meaning.
"""

from __future__ import annotations

import msgspec

from delivrd.config import flag, variable

OK = 0
NOT_JSON = 1001
BAD_SHAPE = 1002
TOO_LARGE = 1003
BAD_TOKEN = 1004
METHOD_NOT_ALLOWED = 1005
NOT_FOUND = 1006
BAD_PARAMETER = 1007
BAD_API_KEY = 1008
BAD_BODY = 1009
BODY_TIMEOUT = 1010
BAD_HTTP = 1011
HEADERS_TOO_LARGE = 1012
FORBIDDEN = 1013
QUEUE_FULL = 2001
COMMIT_FAILED = 2002
SHUTTING_DOWN = 2003
COMMIT_TIMEOUT = 2004
UNSTORABLE = 2005
INTERNAL = 2006
TOO_MANY_STREAMS = 2007

#: code → (HTTP status, meaning), as documented.
TABLE: dict[int, tuple[int, str]] = {
    OK: (200, "stored: every item was committed or quarantined"),
    NOT_JSON: (400, "the body is not valid JSON (kept in the inbox)"),
    BAD_SHAPE: (400, "the body is JSON but not an array of reports or one object (kept in the inbox)"),
    TOO_LARGE: (413, "the body is larger than --max-body-bytes"),
    BAD_TOKEN: (401, "--callback-token is set and ?token= is missing or wrong"),
    METHOD_NOT_ALLOWED: (405, "the route does not take this HTTP method"),
    NOT_FOUND: (404, "no such route or item"),
    BAD_PARAMETER: (400, "a query parameter is unknown or malformed"),
    BAD_API_KEY: (401, "--api-key is set and the Authorization: Bearer header is missing or wrong"),
    BAD_BODY: (400, "the request body is not what the route takes (POST /v1/messages, POST /v1/optouts)"),
    BODY_TIMEOUT: (408, "the request body did not arrive within --body-timeout (what arrived is kept in the inbox)"),
    BAD_HTTP: (400, "the request is not valid HTTP/1.1"),
    HEADERS_TOO_LARGE: (431, "the request headers are larger than --max-header-bytes or more than --max-headers"),
    FORBIDDEN: (403, "--callback-allow is set and the request's source is not among its addresses"),
    QUEUE_FULL: (503, "the write queue is full; retry later"),
    COMMIT_FAILED: (503, "storage could not commit; retry later"),
    SHUTTING_DOWN: (503, "the process is shutting down; retry later"),
    COMMIT_TIMEOUT: (503, "storage did not commit in time; retrying is safe"),
    UNSTORABLE: (503, "storage refused this push's content; the body is kept in the inbox, its group's others stored"),
    INTERNAL: (500, "an unexpected error in delivrd (logged); never on the callback routes"),
    TOO_MANY_STREAMS: (503, "this process serves as many live event streams (GET /v1/events) as it may; retry later"),
}

_encode = msgspec.json.Encoder().encode

#: The ack Tencent expects, encoded once.
ACK = b'{"result":0,"errmsg":"OK"}'


def error_body(code: int, message: str) -> bytes:
    """`{"result": code, "errmsg": message}` as JSON bytes."""
    return _encode({"result": code, "errmsg": message})


def status_of(code: int) -> int:
    return TABLE[code][0]


def setting(name: str) -> str:
    """How a person changes the setting `name`, for a message that meets its limit: its flag or its variable."""
    return f"{flag(name)} or {variable(name)}"


def too_large(limit: int) -> str:
    """The errmsg of a 413 (TOO_LARGE), on every route with a body limit: the limit, and how to raise it."""
    return f"the body is larger than the limit of {limit} bytes; raise it with {setting('max_body_bytes')}"
