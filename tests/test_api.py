"""The read API in process: filters, keyset pagination, API key, clear errors, OpenAPI."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from delivrd.openapi import document
from tests.factories import batch, body, report

ACK = {"result": 0, "errmsg": "OK"}


def push(client, items):
    answer = client.post("/sms/callback", content=body(items))
    assert answer.json() == ACK
    return answer


def test_pages_are_newest_first_and_cover_everything_once(client):
    for start in range(0, 250, 50):
        push(client, batch(start, 50))
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 64, **({"cursor": cursor} if cursor else {})}
        data = client.get("/v1/reports", params=params).json()
        seen += [item["id"] for item in data["items"]]
        pages += 1
        cursor = data["next_cursor"]
        if cursor is None:
            break
    assert pages == 4
    assert seen == sorted(seen, reverse=True)
    assert len(set(seen)) == 250


def test_filters(client):
    push(client, batch(0, 5) + batch(5, 3, report_status="FAIL", errmsg="MK:0001", nationcode="62"))
    get = lambda **p: client.get("/v1/reports", params=p).json()["items"]  # noqa: E731
    assert len(get(report_status="FAIL")) == 3
    assert len(get(errmsg="MK:0001", nationcode="62")) == 3
    assert len(get(nationcode="86")) == 5
    assert [r["mobile"] for r in get(mobile="13800000002")] == ["13800000002"]
    assert [r["sid"] for r in get(sid=report(4)["sid"])] == [report(4)["sid"]]
    assert get(sid="nothing-like-it") == []


def test_every_enumerated_filter_value_is_what_the_store_holds(client):
    """The values the API checks `route`, `outcome` and `report_status` against are the ones stored: each one
    finds its rows (a check with a misspelt list would refuse good values or match nothing)."""
    push(client, [*batch(0, 2), report(2, report_status="FAIL", errmsg="MK:0001")])  # stored
    push(client, [report(3), {"sid": "no-mobile"}])  # partial
    push(client, [{"sid": "no-mobile"}])  # quarantined
    assert client.post("/sms/callback", content=b"not json").status_code == 400  # rejected
    assert client.post("/sms/reply", content=body({"text": "no number"})).json() == ACK  # quarantined, as a reply
    get = lambda path, **p: client.get(path, params=p).json()["items"]  # noqa: E731
    assert {o: len(get("/v1/inbox", outcome=o)) for o in ("stored", "partial", "quarantined", "rejected")} == {
        "stored": 1,
        "partial": 1,
        "quarantined": 2,
        "rejected": 1,
    }
    assert (len(get("/v1/inbox", route="callback")), len(get("/v1/inbox", route="reply"))) == (4, 1)
    assert (len(get("/v1/rejects", route="callback")), len(get("/v1/rejects", route="reply"))) == (3, 1)
    assert (len(get("/v1/reports", report_status="SUCCESS")), len(get("/v1/reports", report_status="FAIL"))) == (3, 1)


def test_time_window(client):
    push(client, batch(0, 3))
    received = [datetime.fromisoformat(r["received_at"]) for r in client.get("/v1/reports").json()["items"]]
    first = min(received)
    later = (first + timedelta(hours=1)).isoformat()
    assert len(client.get("/v1/reports", params={"since": first.isoformat()}).json()["items"]) == 3
    assert client.get("/v1/reports", params={"since": later}).json()["items"] == []
    assert client.get("/v1/reports", params={"until": first.isoformat()}).json()["items"] == []
    # no offset means UTC; a date alone is midnight
    today = datetime.now(UTC).date().isoformat()
    assert len(client.get("/v1/reports", params={"since": today}).json()["items"]) == 3


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"limit": "0"}, "limit must be a whole number from 1 to 1000"),
        ({"limit": "abc"}, "limit must be"),
        ({"limit": "1001"}, "limit must be"),
        ({"cursor": "xyz"}, "cursor must be"),
        ({"since": "last tuesday"}, "since must be an ISO 8601"),
        ({"sids": "a"}, "unknown query parameter(s): sids"),
    ],
)
def test_bad_parameters_get_a_clear_json_error(http_client, params, fragment):
    answer = http_client.get("/v1/reports", params=params)
    assert answer.status_code == 400
    assert answer.json()["result"] == 1007 and fragment in answer.json()["errmsg"]


def test_api_key_protects_v1_only(start_http_app):
    anonymous = start_http_app(api_key="k3y").client
    for path in ("/v1/reports", "/v1/rejects", "/v1/inbox", "/v1/replies"):
        answer = anonymous.get(path)
        assert answer.status_code == 401 and answer.json()["result"] == 1008, path
    assert anonymous.get("/v1/reports", headers={"authorization": "Bearer nope"}).status_code == 401
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    push(anonymous, [report(1)])  # callbacks are protected by --callback-token, not the API key
    assert len(anonymous.get("/v1/reports", headers={"authorization": "Bearer k3y"}).json()["items"]) == 1


NO_KEY = "no API key given: send 'Authorization: Bearer <key>' with the key delivrd runs with (--api-key)"
WRONG_KEY = "the API key given is not the one configured (--api-key)"


def test_a_wrong_api_key_reads_differently_from_a_missing_one(start_http_app):
    """On every route the OpenAPI document says is protected: the dashboard's own calls (/v1/activity) too."""
    client = start_http_app(api_key="k3y").client
    protected = [
        (method.upper(), re.sub(r"\{\w+\}", "x", path))
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    ]
    assert ("GET", "/v1/activity") in protected and ("POST", "/v1/messages") in protected
    for method, path in protected:
        for headers, errmsg in (
            ({}, NO_KEY),
            ({"authorization": "Bearer nope"}, WRONG_KEY),
            ({"authorization": "Bearer k3y2"}, WRONG_KEY),
            ({"authorization": "Bearer "}, NO_KEY),
            ({"authorization": "Basic azN5Og=="}, "the Authorization header must be 'Bearer <key>'; got a Basic one"),
            ({"authorization": "k3y"}, "the Authorization header must be 'Bearer <key>'"),
        ):
            answer = client.request(method, path, headers=headers)
            assert answer.status_code == 401, (method, path, headers)
            assert answer.json() == {"result": 1008, "errmsg": errmsg}, (method, path, headers)


def test_openapi_says_item_index_counts_from_zero():
    """`item_index` is stored data, zero-based as JSON arrays are: the document says so, in words a person
    cannot misread."""
    description = document()["components"]["schemas"]["Reject"]["properties"]["item_index"]["description"]
    assert "from 0" in description and "first item is 0" in description


def test_unknown_route_is_json_404(http_client):
    answer = http_client.get("/v2/nothing")
    assert answer.status_code == 404 and answer.json()["result"] == 1006


def test_openapi_describes_every_route(http_client):
    spec = http_client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) >= {
        "/sms/callback",
        "/sms/reply",
        "/v1/reports",
        "/v1/rejects",
        "/v1/inbox",
        "/v1/replies",
        "/healthz",
        "/metrics",
    }
    report_schema = spec["components"]["schemas"]["Report"]
    assert {"sid", "phone", "received_at", "user_receive_at"} <= set(report_schema["properties"])
    callback = spec["paths"]["/sms/callback"]["post"]["responses"]
    assert set(callback) == {"200", "400", "401", "413", "503"}


def test_openapi_asks_for_the_key_only_when_the_server_has_one(start_http_app):
    """The document describes this server: with --api-key the read routes require it, without one none does."""
    keyed = start_http_app(api_key="k3y").client.get("/openapi.json").json()
    open_ = start_http_app().client.get("/openapi.json").json()
    secured = {path for path, item in keyed["paths"].items() if any("security" in op for op in item.values())}
    assert {"/v1/reports", "/v1/messages", "/v1/activity"} <= secured
    assert "securitySchemes" in keyed["components"]
    assert not any("security" in op for item in open_["paths"].values() for op in item.values())
    assert "securitySchemes" not in open_["components"]
    assert open_["paths"].keys() == keyed["paths"].keys()


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/endpoints", {"GET", "HEAD", "POST"}),
        ("/v1/endpoints/ep_x", {"DELETE", "GET", "HEAD"}),
        ("/v1/optouts", {"GET", "HEAD", "POST"}),
        ("/v1/phones/+8613800138000", {"DELETE", "GET", "HEAD"}),
    ],
)
def test_a_method_a_path_does_not_take_is_405_with_every_method_it_does(http_client, path, allowed):
    answer = http_client.request("PUT", path)
    assert answer.status_code == 405 and answer.json()["result"] == 1005
    assert set(answer.headers["allow"].split(", ")) == allowed
