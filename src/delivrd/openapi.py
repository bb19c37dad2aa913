"""The OpenAPI 3.1 description served at /openapi.json, with schemas taken from the model structs."""

from __future__ import annotations

from typing import Any

import msgspec

from delivrd import __version__
from delivrd.dashboard import activity
from delivrd.dashboard.activity import Activity
from delivrd.domain import results, storable
from delivrd.domain.push import OUTCOMES, ROUTES
from delivrd.providers.tencent.receipts import Catalogue, ReceiptCode
from delivrd.providers.tencent.shapes import TencentReply, TencentReport
from delivrd.query import stats
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
from delivrd.query.insight import PhoneTimeline, Registered
from delivrd.query.messages import MessageView, SendSmsCall
from delivrd.query.models import InboxEntry, Reject, Reply, Report


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


def _listing(summary: str, item: str, *params: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": [*params, *PAGING],
            "security": [{"apiKey": []}],
            "responses": {"200": _json(_page(item), "a page, newest first"), **API_ERRORS},
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
                    **_answers(results.BAD_BODY, results.TOO_LARGE, *READ_ERRORS),
                },
            }
        },
        "/v1/messages/{sid}": _get(
            "One message: its send, receipts and state",
            _ref("MessageView"),
            _path("sid", "Tencent's sid (SerialNo)"),
            found=True,
        ),
        "/v1/phones/{phone}": _get(
            "Every message to one number, newest first",
            _ref("PhoneTimeline"),
            _path(
                "phone", "E.164, e.g. +8613800138000; digits alone are a number of --default-country (86 unless set)"
            ),
            *window,
        ),
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
            stats.Stats,
            Catalogue,
            ReceiptCode,
            Activity,
            Health,
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
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "--api-key"}},
        },
    }
