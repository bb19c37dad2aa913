"""The OpenAPI 3.1 description served at /openapi.json, with schemas taken from the model structs."""

from __future__ import annotations

from typing import Any

import msgspec

from delivrd import __version__
from delivrd.dashboard import activity
from delivrd.dashboard.activity import Activity
from delivrd.domain import results, storable, unsubscribe
from delivrd.domain.push import OUTCOMES, ROUTES
from delivrd.forward import event as events
from delivrd.forward import live
from delivrd.forward.endpoints import EndpointView, NewEndpoint
from delivrd.forward.routes import EndpointDetail, Endpoints, Removed, Replay, Replayed
from delivrd.providers.tencent.receipts import Catalogue, ReceiptCode
from delivrd.providers.tencent.shapes import TencentReply, TencentReport
from delivrd.query import stats
from delivrd.query.erasure import Erased
from delivrd.query.http import (
    CURSOR_PATTERN,
    DEFAULT_LIMIT,
    MAX_CURSOR,
    MAX_LIMIT,
    MIN_LIMIT,
    REPORT_STATUSES,
    TEXT_PATTERN,
    Health,
)
from delivrd.query.insight import MAX_WAIT, PhoneTimeline, Registered
from delivrd.query.messages import MessageView, SendSmsCall
from delivrd.query.models import InboxEntry, Reject, Reply, Report
from delivrd.query.optouts import OptOut, OptOutRequest, OptOutStatus


class Answer(msgspec.Struct):
    """Every callback answer and every error: `result` 0 is success, anything else says why."""

    result: int
    errmsg: str


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _answers(*codes: int) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code in codes:
        status, meaning = results.TABLE[code]
        by_status.setdefault(status, []).append(f"{code}: {meaning}")
    return {str(status): _json(_ref("Answer"), "; ".join(lines)) for status, lines in sorted(by_status.items())}


def _page(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
    }


#: a text parameter of the read API (`api.Params` refuses a NUL in any)
TEXT = {"type": "string", "pattern": TEXT_PATTERN}


def _param(name: str, description: str, schema: dict[str, Any] = TEXT) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _choice(name: str, description: str, choices: tuple[str, ...]) -> dict[str, Any]:
    """An enumerated parameter (`Params.choice`): exactly one of `choices`, anything else a 400 that lists them."""
    return _param(name, description, {"type": "string", "enum": list(choices)})


#: the callback route a push arrived on (`/sms/callback`: callback, `/sms/reply`: reply)
ROUTE = _choice("route", "the callback route: callback for /sms/callback, reply for /sms/reply", ROUTES)

#: the times `since` and `until` may name (`api.parse_time` checks them against the same limits)
_SPAN = f"from {storable.moment(storable.FIRST_MICRO).date()} to {storable.moment(storable.LAST_MICRO).date()} UTC"
_TIME = {"type": "string", "format": "date-time"}
PAGING = [
    _param(
        "since",
        f"only items received at or after this ISO 8601 time (no offset: UTC; a date alone is"
        f" midnight), {_SPAN}, before until",
        _TIME,
    ),
    _param("until", f"only items received before this ISO 8601 time (no offset: UTC), {_SPAN}", _TIME),
    _param(
        "limit",
        f"page size, {MIN_LIMIT} to {MAX_LIMIT}",
        {"type": "integer", "minimum": MIN_LIMIT, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    ),
    _param(
        "cursor",
        f"next_cursor of the previous page (at most {MAX_CURSOR})",
        {"type": "string", "pattern": CURSOR_PATTERN},
    ),
]
#: the answers every read route may give besides its own
READ_ERRORS = (results.BAD_PARAMETER, results.BAD_API_KEY, results.COMMIT_FAILED, results.INTERNAL)
API_ERRORS = _answers(*READ_ERRORS)
#: the answers of a route the viewer key may not use (a write, the raw bodies)
WRITE_ERRORS = _answers(*READ_ERRORS, results.VIEWER_REFUSED)
PHONE = {
    "name": "phone",
    "in": "path",
    "required": True,
    "description": "E.164, e.g. +8613800138000; digits alone are a number of --default-country (86 unless set)",
    "schema": TEXT,
}
#: how the two keys differ, said where the key is described
KEYS = (
    "--api-key: every route, everything shown. A server may also run with --viewer-key, a second, read-only key:"
    " with it every read route answers with phone numbers masked (mobile `138****8000`, phone `+86 138****8000`,"
    " runs of 7 digits or more in free text such as a reply's text; a lookup by the full number still works) and"
    " with raw bodies, quarantined text (`raw`) and unknown fields"
    " (`extra`) null; /v1/inbox and every write answer 403 (result 1014)."
)


def _listing(summary: str, item: str, *params: dict[str, Any], viewer: bool = True) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": [*params, *PAGING],
            "security": [{"apiKey": []}],
            "responses": {
                "200": _json(_page(item), "a page, newest first"),
                **(API_ERRORS if viewer else WRITE_ERRORS),
            },
        }
    }


def _callback(summary: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [
                {
                    "name": "token",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "required when the service runs with --callback-token",
                }
            ],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": _answers(
                results.OK,
                results.NOT_JSON,
                results.BAD_SHAPE,
                results.TOO_LARGE,
                results.BAD_TOKEN,
                results.QUEUE_FULL,
                results.COMMIT_FAILED,
                results.SHUTTING_DOWN,
                results.COMMIT_TIMEOUT,
            ),
        }
    }


def _get(summary: str, schema: dict[str, Any], *params: dict[str, Any], found: bool = False) -> dict[str, Any]:
    errors = _answers(*READ_ERRORS, *((results.NOT_FOUND,) if found else ()))
    return {
        "get": {
            "summary": summary,
            "parameters": list(params),
            "security": [{"apiKey": []}],
            "responses": {"200": _json(schema, summary), **errors},
        }
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": TEXT}


def insight_paths() -> dict[str, Any]:
    """Sends, message state, statistics and the receipt code catalogue (docs/answering-questions.md)."""
    window = [PAGING[0], PAGING[1]]
    return {
        "/v1/messages": {
            "post": {
                "summary": "Register one SendSms call (or an array of them): response fields plus TemplateId, SignName,"
                " SentAt; unknown keys are ignored",
                "security": [{"apiKey": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("SendSmsCall")}}},
                "responses": {
                    "200": _json(_ref("Registered"), "what was registered"),
                    **_answers(results.BAD_BODY, results.TOO_LARGE, *READ_ERRORS, results.VIEWER_REFUSED),
                },
            }
        },
        "/v1/messages/{sid}": _get(
            "One message: its send, receipts and state; with wait, a long poll that answers as soon as a receipt"
            " arrives",
            _ref("MessageView"),
            _path("sid", "Tencent's sid (SerialNo)"),
            _param(
                "wait",
                f"seconds to wait for a receipt when the message has none yet (0 to {MAX_WAIT}; default 0): the"
                " answer comes as soon as one arrives, else after wait seconds with the state then (pending); 404"
                " only if there is still no send and no receipt",
                {"type": "integer", "minimum": 0, "maximum": MAX_WAIT, "default": 0},
            ),
            found=True,
        ),
        "/v1/phones/{phone}": {
            **_get("Every message to one number, newest first", _ref("PhoneTimeline"), PHONE, *window),
            "delete": {
                "summary": "Erase the number everywhere it is kept (docs/personal-data.md): its reports, replies and"
                " sends removed, its messages kept (every count stays) with the number replaced, its digits masked"
                " inside rejects and raw inbox bodies; the answer counts the rows by table. The API key only",
                "parameters": [PHONE],
                "security": [{"apiKey": []}],
                "responses": {"200": _json(_ref("Erased"), "what was erased"), **WRITE_ERRORS},
            },
        },
        "/v1/stats": _get(
            "Totals, success rate and latency of the messages in a range, grouped",
            _ref("Stats"),
            *window,
            _param(
                "tz",
                "the IANA time zone whose midnights start the days (by=day) and whose clock shows the hours"
                " (by=hour), e.g. Asia/Shanghai; another name is a 400; default: the server's --timezone",
                {**TEXT, "format": "iana-time-zone"},
            ),
            _choice("by", "group by", stats.GROUPS),
        ),
        "/v1/receipt-codes": _get(
            "The receipt code catalogue, or what one code means",
            {"anyOf": [_ref("Catalogue"), _ref("ReceiptCode")]},
            _param("code", "one receipt code (errmsg) to look up"),
        ),
    }


def optout_paths() -> dict[str, Any]:
    """The opt-out list (docs/replies-and-unsubscribes.md)."""
    phone = "E.164, e.g. +8613800138000; digits alone are a number of --default-country"
    number = {"type": "string", "pattern": "^\\+?[0-9]+$"}
    filters = [
        _param("phone", phone, number),
        _choice("source", "where the change came from", unsubscribe.SOURCES),
        _param("sign", "the reply's sign (or the one given by hand)"),
        _param("extend", "the reply's extend code"),
    ]
    listing = _listing("The numbers on the opt-out list now, each as the change that put it there", "OptOut", *filters)
    listing["post"] = {
        "summary": "Put a number on the opt-out list by hand (201; 200 with its entry when it is already on it)",
        "security": [{"apiKey": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("OptOutRequest")}}},
        "responses": {
            "201": _json(_ref("OptOut"), "the change made"),
            "200": _json(_ref("OptOut"), "already on the list: the change that put it there"),
            **_answers(results.BAD_BODY, *READ_ERRORS),
        },
    }
    return {
        "/v1/optouts": listing,
        "/v1/optouts/changes": _listing(
            "Every change to the opt-out list, newest first (ids increase in the order they were made)",
            "OptOut",
            *filters,
            _choice("action", "what the change did", unsubscribe.ACTIONS),
        ),
        "/v1/optouts/{phone}": {
            "delete": {
                "summary": "Take a number off the opt-out list by hand",
                "parameters": [
                    {**_path("phone", phone), "schema": number},
                    _param("note", "why, kept with the change"),
                ],
                "security": [{"apiKey": []}],
                "responses": {
                    "200": _json(_ref("OptOut"), "the change made"),
                    **_answers(*READ_ERRORS, results.NOT_FOUND),
                },
            }
        },
    }


def _endpoint_id() -> dict[str, Any]:
    return _path("id", "the endpoint's id (ep_…)")


def _operation(summary: str, answer: dict[str, Any], *codes: int, body: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": [{"apiKey": []}],
        "responses": {**answer, **_answers(*codes, *READ_ERRORS)},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    return operation


#: what `types` takes: event types, comma-separated
TYPES_PATTERN = "^({0})(,({0}))*$".format("|".join(t.replace(".", "\\.") for t in events.TYPES))


def forwarding_paths() -> dict[str, Any]:
    """Endpoints that receive the events, and the live feed of them (docs/forwarding.md)."""
    one = _endpoint_id()
    body_errors = (results.BAD_BODY, results.TOO_LARGE)
    return {
        "/v1/endpoints": {
            "post": _operation(
                "Add an endpoint: events from now on go to it (a webhook URL, redis://…?stream=, nats://…?subject=)",
                {"201": _json(_ref("EndpointView"), "the endpoint, with its secret")},
                *body_errors,
                body="NewEndpoint",
            ),
            "get": _operation("Every endpoint, with its state and lag", {"200": _json(_ref("Endpoints"), "")}),
        },
        "/v1/endpoints/{id}": {
            "get": {
                **_operation(
                    "One endpoint, with the events most recently failed for good",
                    {"200": _json(_ref("EndpointDetail"), "")},
                    results.NOT_FOUND,
                ),
                "parameters": [one],
            },
            "delete": {
                **_operation("Remove an endpoint", {"200": _json(_ref("Removed"), "")}, results.NOT_FOUND),
                "parameters": [one],
            },
        },
        "/v1/endpoints/{id}/replay": {
            "post": {
                **_operation(
                    "Send again every event of a time range, due now",
                    {"200": _json(_ref("Replayed"), "how many events were queued")},
                    results.NOT_FOUND,
                    *body_errors,
                    body="Replay",
                ),
                "parameters": [one],
            }
        },
        "/v1/endpoints/{id}/enable": {
            "post": {
                **_operation(
                    "Enable a disabled endpoint again", {"200": _json(_ref("EndpointView"), "")}, results.NOT_FOUND
                ),
                "parameters": [one],
            }
        },
        "/v1/events": {
            "get": {
                "summary": "The events as Server-Sent Events, live; resumable with Last-Event-ID",
                "description": (
                    "A text/event-stream. It opens with a message holding only `id:` (the position it starts at);"
                    " then each event is `id: <position>`, `event: <type>`, `data: <Event as JSON>`; a comment"
                    f" every {live.KEEP_ALIVE:g} s of silence. The id is opaque: send it back as Last-Event-ID"
                    " (EventSource does on reconnecting) or last_event_id to get every event after it, none twice."
                    " Without either the stream starts at the newest event."
                ),
                "parameters": [
                    _param(
                        "types",
                        "only these event types, comma-separated (default: every type)",
                        {"type": "string", "pattern": TYPES_PATTERN},
                    ),
                    _param(
                        "last_event_id",
                        "resume after this event id (for clients that cannot send the Last-Event-ID header; the"
                        " header wins)",
                        {"type": "string", "pattern": "^[0-9]+-[0-9]+$"},
                    ),
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "description": "resume after this event id",
                        "schema": {"type": "string", "pattern": "^[0-9]+-[0-9]+$"},
                    },
                ],
                "security": [{"apiKey": []}],
                "responses": {
                    "200": {
                        "description": "the stream; each message's data is an Event",
                        "content": {"text/event-stream": {"schema": _ref("Event")}},
                    },
                    **_answers(*READ_ERRORS, results.SHUTTING_DOWN, results.TOO_MANY_STREAMS),
                },
            }
        },
    }


def document(*, api_key: bool = True) -> dict[str, Any]:
    """The OpenAPI document of this server: `api_key` says whether it runs with `--api-key`; without one no route
    asks for it, so a client (or schemathesis) reading the document sends what the server checks."""
    spec = _document()
    if not api_key:
        spec["paths"] = {
            path: {method: {k: v for k, v in op.items() if k != "security"} for method, op in item.items()}
            for path, item in spec["paths"].items()
        }
        del spec["components"]["securitySchemes"]
    return spec


def _document() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        [
            Answer,
            TencentReport,
            TencentReply,
            Report,
            Reply,
            Reject,
            InboxEntry,
            SendSmsCall,
            Registered,
            MessageView,
            PhoneTimeline,
            OptOut,
            OptOutRequest,
            OptOutStatus,
            NewEndpoint,
            EndpointView,
            EndpointDetail,
            Endpoints,
            Replay,
            Replayed,
            Removed,
            events.Event,
            stats.Stats,
            Catalogue,
            ReceiptCode,
            Activity,
            Health,
            Erased,
        ],
        ref_template="#/components/schemas/{name}",
    )
    report_body = {"anyOf": [{"type": "array", "items": _ref("TencentReport")}, _ref("TencentReport")]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "delivrd",
            "version": __version__,
            "description": "Durable receiver and query service for Tencent Cloud SMS delivery-status callbacks.",
        },
        "paths": {
            "/sms/callback": _callback("Tencent status-report callback (an array of up to 100 reports)", report_body),
            "/sms/reply": _callback("Tencent reply (MO) callback (one object)", _ref("TencentReply")),
            "/v1/reports": _listing(
                "Stored status reports",
                "Report",
                _param("sid", "Tencent's sid (SerialNo)"),
                _param("mobile", "national number as received"),
                _param("nationcode", "country calling code, e.g. 86"),
                _choice("report_status", "as Tencent sends it, exactly", REPORT_STATUSES),
                _param("errmsg", "receipt status code, e.g. DELIVRD"),
            ),
            "/v1/rejects": _listing("Quarantined items and bodies, with the reason", "Reject", ROUTE),
            "/v1/replies": _listing("Stored reply (MO) messages", "Reply", _param("mobile", "the replying number")),
            "/v1/inbox": _listing(
                "Every request body that reached a callback route, as received",
                "InboxEntry",
                ROUTE,
                _choice(
                    "outcome", "; ".join(f"{name}: {meaning}" for name, meaning in OUTCOMES.items()), tuple(OUTCOMES)
                ),
                viewer=False,
            ),
            "/v1/activity": _get(
                "The last callback received, and counts since the database was created; with since, the messages"
                " of since to until (at most 6 hours) minute by minute",
                _ref("Activity"),
                _param(
                    "since",
                    f"count the messages from this ISO 8601 time (no offset: UTC) minute by minute, in minutes;"
                    f" {_SPAN}, at most {activity.MAX_MINUTES} minutes before until",
                    _TIME,
                ),
                _param("until", "the end of the minutes counted (exclusive; default now); needs since", _TIME),
            ),
            **insight_paths(),
            **optout_paths(),
            **forwarding_paths(),
            "/healthz": {
                "get": {
                    "summary": "Storage answers and commits",
                    "responses": {
                        "200": _json(_ref("Health"), '{"status":"ok"}'),
                        "503": _json(
                            _ref("Health"), "storage does not answer, or the latest commit failed: error says why"
                        ),
                        **_answers(results.INTERNAL),
                    },
                }
            },
            "/metrics": {"get": {"summary": "Prometheus counters", "responses": {"200": {"description": "text"}}}},
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": KEYS}},
        },
    }
