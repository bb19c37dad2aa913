"""The OpenAPI 3.1 description served at /openapi.json, with schemas taken from the model structs."""

from __future__ import annotations

from typing import Any

import msgspec

from delivrd import __version__, results, stats
from delivrd.api import DEFAULT_LIMIT, MAX_LIMIT
from delivrd.insight_api import PhoneTimeline, Registered
from delivrd.messages import MessageView, SendSmsCall
from delivrd.models import InboxEntry, Reject, Reply, Report
from delivrd.receipts import Catalogue, ReceiptCode


class Answer(msgspec.Struct):
    """Every callback answer and every error: `result` 0 is success, anything else says why."""

    result: int
    errmsg: str


class TencentReport(msgspec.Struct, kw_only=True):
    """One status report as Tencent pushes it; unknown extra fields are accepted and kept."""

    user_receive_time: str
    nationcode: str
    mobile: str
    report_status: str
    errmsg: str
    description: str
    sid: str
    ext: str | None = None


class TencentReply(msgspec.Struct, kw_only=True):
    """One reply (MO) SMS as Tencent pushes it."""

    extend: str
    mobile: str
    nationcode: str
    sign: str
    text: str
    time: int


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


def _param(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}  # fmt: skip


PAGING = [
    _param("since", "only items received at or after this ISO 8601 time (no offset: UTC)"),
    _param("until", "only items received before this ISO 8601 time (no offset: UTC)"),
    _param("limit", f"page size, 1 to {MAX_LIMIT}", {"type": "integer", "default": DEFAULT_LIMIT}),
    _param("cursor", "next_cursor of the previous page"),
]
API_ERRORS = _answers(results.BAD_PARAMETER, results.BAD_API_KEY, results.COMMIT_FAILED)


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
            "parameters": [{"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
                            "description": "required when the service runs with --callback-token"}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": _answers(
                results.OK, results.NOT_JSON, results.BAD_SHAPE, results.TOO_LARGE, results.BAD_TOKEN,
                results.QUEUE_FULL, results.COMMIT_FAILED, results.SHUTTING_DOWN, results.COMMIT_TIMEOUT,
            ),
        }
    }  # fmt: skip


def _get(summary: str, schema: dict[str, Any], *params: dict[str, Any], found: bool = False) -> dict[str, Any]:
    errors = _answers(results.BAD_PARAMETER, results.BAD_API_KEY, results.COMMIT_FAILED,
                      *((results.NOT_FOUND,) if found else ()))  # fmt: skip
    return {"get": {"summary": summary, "parameters": list(params), "security": [{"apiKey": []}],
                    "responses": {"200": _json(schema, summary), **errors}}}  # fmt: skip


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def insight_paths() -> dict[str, Any]:
    """Sends, message state, statistics and the receipt code catalogue (docs/answering-questions.md)."""
    window = [PAGING[0], PAGING[1]]
    return {
        "/v1/messages": {"post": {
            "summary": "Register one SendSms call (or an array of them): response fields plus TemplateId, SignName,"
                       " SentAt; unknown keys are ignored",
            "security": [{"apiKey": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("SendSmsCall")}}},
            "responses": {"200": _json(_ref("Registered"), "what was registered"), **_answers(
                results.BAD_BODY, results.TOO_LARGE, results.BAD_API_KEY, results.COMMIT_FAILED)},
        }},
        "/v1/messages/{sid}": _get("One message: its send, receipts and state", _ref("MessageView"),
                                   _path("sid", "Tencent's sid (SerialNo)"), found=True),
        "/v1/phones/{phone}": _get("Every message to one number, newest first", _ref("PhoneTimeline"),
                                   _path("phone", "E.164, e.g. +8613800138000"), *window),
        "/v1/stats": _get("Totals, success rate and latency of the messages in a range, grouped", _ref("Stats"),
                          *window, _param("by", "group by", {"enum": list(stats.GROUPS)})),
        "/v1/receipt-codes": _get("The receipt code catalogue, or what one code means",
                                  {"anyOf": [_ref("Catalogue"), _ref("ReceiptCode")]},
                                  _param("code", "one receipt code (errmsg) to look up")),
    }  # fmt: skip


def document() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        [Answer, TencentReport, TencentReply, Report, Reply, Reject, InboxEntry, SendSmsCall, Registered, MessageView,
         PhoneTimeline, stats.Stats, Catalogue, ReceiptCode],
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
                _param("report_status", "SUCCESS or FAIL"),
                _param("errmsg", "receipt status code, e.g. DELIVRD"),
            ),
            "/v1/rejects": _listing(
                "Quarantined items and bodies, with the reason", "Reject", _param("route", "callback or reply")
            ),
            "/v1/replies": _listing("Stored reply (MO) messages", "Reply", _param("mobile", "the replying number")),
            "/v1/inbox": _listing(
                "Every request body that reached a callback route, as received",
                "InboxEntry",
                _param("route", "callback or reply"),
                _param("outcome", "stored, partial, quarantined, rejected, too_large or unauthorized"),
            ),
            **insight_paths(),
            "/healthz": {"get": {"summary": "Storage answers", "responses": {
                "200": {"description": '{"status":"ok"}'}, "503": {"description": "storage unavailable"}}}},
            "/metrics": {"get": {"summary": "Prometheus counters", "responses": {"200": {"description": "text"}}}},
        },  # fmt: skip
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "--api-key"}},
        },
    }
