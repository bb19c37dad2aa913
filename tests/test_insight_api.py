"""Sends, message state and statistics over the HTTP API (in process), checked against an independent reckoning."""

from datetime import UTC, datetime

import pytest

from tests.factories import SEED_SAMPLE, body
from tests.insight_mix import CATEGORY, HOUR, NOW, assert_stats_match, expected, generate
from tests.servers import InProcessApp

ACK = {"result": 0, "errmsg": "OK"}


def push(client, items):
    for start in range(0, len(items), 100):
        assert client.post("/sms/callback", content=body(items[start : start + 100])).json() == ACK


def call(m) -> dict:
    status = {
        "SerialNo": m.sid or "",
        "PhoneNumber": f"+{m.nationcode}{m.mobile}",
        "Fee": 1,
        "Code": "LimitExceeded.PhoneNumberDailyLimit" if m.refused else "Ok",
        "IsoCode": "XX",
    }
    sent = datetime.fromtimestamp(m.sent_at, UTC).isoformat()
    return {
        "TemplateId": m.template,
        "SignName": m.sign,
        "SentAt": sent,
        "RequestId": "ignored",
        "SendStatusSet": [status],
    }


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    """One delivrd fed with the generated mix: receipts before and after their sends, duplicates, orphans.
    Module-scoped: the tests only read it."""
    app = InProcessApp(tmp_path_factory.mktemp("insight") / "d.db")
    messages = generate()
    sends = [m for m in messages if m.sent_at is not None]
    orphans = [m for m in messages if m.sent_at is None]
    early, late = sends[: len(sends) // 2], sends[len(sends) // 2 :]
    try:
        client = app.client
        push(client, [r for m in early for r in m.receipts])  # receipts before their sends
        for start in range(0, len(sends), 50):
            answer = client.post("/v1/messages", json=[call(m) for m in sends[start : start + 50]])
            assert answer.status_code == 200, answer.text
            assert answer.json()["new"] == len(sends[start : start + 50])
        again = client.post("/v1/messages", json=call(sends[0])).json()
        assert (again["new"], again["known"]) == (0, 1)  # registering twice changes nothing
        push(client, [r for m in late for r in m.receipts])
        push(client, [r for m in sends[::7] for r in m.receipts])  # Tencent's retries: duplicates
        push(client, [r for m in orphans for r in m.receipts] * 2)  # receipts nobody registered, twice
        for m in orphans:
            reports = client.get("/v1/reports", params={"sid": m.sid}).json()["items"]
            m.received_at = min(datetime.fromisoformat(r["received_at"]).timestamp() for r in reports)
        yield client, messages
    finally:
        app.close()


def as_dict(answer: dict) -> dict:
    answer = dict(answer)
    answer["groups"] = {g.pop("key"): g for g in answer["groups"]}
    return answer


def rounded(value):
    """Rates compared to 12 places: the database and the test divide the same integers."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return round(value, 12) if isinstance(value, float) else value


@pytest.mark.parametrize("by", [None, "day", "hour", "nationcode", "errmsg", "category", "template", "sign"])
def test_stats_match_the_independent_reckoning(fed, by):
    client, messages = fed
    answer = client.get("/v1/stats", params={"by": by} if by else {})
    assert answer.status_code == 200, answer.text
    got = as_dict(answer.json())
    assert (got.pop("since"), got.pop("until")) == (None, None)
    assert (got.pop("timezone"), got.pop("latency_error")) == ("UTC", 0.125)
    assert_stats_match(got, expected(messages, by))
    assert got["total"] == len(messages)  # sends, plus one per (sid, mobile) of receipts with no send


def test_a_time_range_counts_what_falls_in_it(fed):
    client, messages = fed
    since = datetime.fromtimestamp(NOW - 48 * HOUR, UTC)
    inside = [m for m in messages if m.at >= since.timestamp()]
    got = as_dict(client.get("/v1/stats", params={"since": since.isoformat(), "by": "template"}).json())
    assert got.pop("since") == since.isoformat(timespec="microseconds").replace("+00:00", "Z")
    assert got.pop("until") is None
    got.pop("timezone"), got.pop("latency_error")
    assert_stats_match(got, expected(inside, "template"))
    assert 0 < got["total"] < len(messages)


def test_one_message_and_one_phone(fed):
    client, messages = fed
    for m in messages[:40]:
        if m.sid is None:
            continue
        view = client.get(f"/v1/messages/{m.sid}").json()
        assert (view["sid"], view["state"], view["code"]) == (m.sid, m.state, m.code)
        assert len(view["reports"]) == len(m.receipts)
        assert view["category"] == {"delivered": "delivered", "failed": CATEGORY.get(m.code)}.get(m.state)
        assert view["latency_ms"] == (None if m.latency_s is None else m.latency_s * 1000)
        assert (view["send"] is None) == (m.sent_at is None)
        timeline = client.get(f"/v1/phones/+{m.nationcode}{m.mobile}").json()
        assert [(v["sid"], v["state"]) for v in timeline["messages"]] == [(m.sid, m.state)]
    refused = next(m for m in messages if m.refused)
    timeline = client.get(f"/v1/phones/{refused.nationcode}{refused.mobile}").json()  # no '+' is fine too
    assert [(v["sid"], v["state"], v["code"]) for v in timeline["messages"]] == [(None, "failed", refused.code)]


def test_receipt_codes(fed):
    client, _ = fed
    catalogue = client.get("/v1/receipt-codes").json()
    assert {c["code"]: c["category"] for c in catalogue["codes"]}["MX:0003"] == "rate_limited"
    one = client.get("/v1/receipt-codes", params={"code": "NEW:1"}).json()
    assert (one["category"], one["match"]) == ("unknown", "none") and one["explanation"]["zh"]


@pytest.mark.parametrize(
    "method, path, payload, status, result, fragment",
    [
        ("post", "/v1/messages", b"not json", 400, 1009, "not valid JSON"),
        ("post", "/v1/messages", b'{"TemplateId": "1"}', 400, 1009, "SendStatusSet"),
        ("post", "/v1/messages", b'{"SendStatusSet": []}', 400, 1009, "nothing to register"),
        ("post", "/v1/messages", b'{"SendStatusSet": [{"PhoneNumber": "13800138000"}]}', 400, 1009, "E.164"),
        (
            "post",
            "/v1/messages",
            b'{"SendStatusSet": [{"PhoneNumber": "+8613800138000", "Code": "Ok"}]}',
            400,
            1009,
            "SerialNo is required",
        ),
        (
            "post",
            "/v1/messages",
            b'{"SentAt": "noon", "SendStatusSet": [{"PhoneNumber": "+8613800138000", "SerialNo": "x"}]}',
            400,
            1009,
            "SentAt must be",
        ),
        ("get", "/v1/stats?by=week", None, 400, 1007, "by must be one of"),
        ("get", "/v1/stats?since=yesterday", None, 400, 1007, "since must be an ISO 8601"),
        ("get", "/v1/stats?limit=5", None, 400, 1007, "unknown query parameter(s): limit"),
        ("get", "/v1/stats?since=2026-11-02&until=2026-11-01", None, 400, 1007, "since must be before until"),
        ("get", "/v1/phones/+99912", None, 400, 1007, "known country calling code"),
        ("get", "/v1/messages/no-such-sid", None, 404, 1006, "no send and no receipt"),
    ],
)
def test_bad_input_gets_a_clear_json_error(http_client, method, path, payload, status, result, fragment):
    answer = http_client.request(method.upper(), path, content=payload)
    assert answer.status_code == status
    assert answer.json()["result"] == result and fragment in answer.json()["errmsg"], answer.text


def test_tencent_response_wrapper_and_masked_receipts(client):
    """The SDK's raw answer ({"Response": {...}}) is accepted; a masked receipt is its own message."""
    wrapped = {
        "Response": {
            "SendStatusSet": [{"SerialNo": "5000:77", "PhoneNumber": "+8613800000077", "Code": "Ok"}],
            "RequestId": "r",
        }
    }
    assert client.post("/v1/messages", json=wrapped).json()["new"] == 1
    push(client, SEED_SAMPLE)
    stats = client.get("/v1/stats").json()
    assert (stats["total"], stats["pending"], stats["delivered"]) == (2, 1, 1)
    assert stats["latency_ms"] == {"p50": None, "p90": None, "p99": None}


def test_api_key_protects_the_insight_routes(start_http_app):
    anonymous = start_http_app(api_key="k3y").client
    for path in ("/v1/stats", "/v1/messages/x", "/v1/phones/+8613800138000", "/v1/receipt-codes"):
        assert anonymous.get(path).json()["result"] == 1008, path
    assert anonymous.post("/v1/messages", json={}).json()["result"] == 1008
    assert anonymous.get("/v1/stats", headers={"authorization": "Bearer k3y"}).json()["total"] == 0


def test_openapi_describes_the_insight_routes(http_client):
    spec = http_client.get("/openapi.json").json()
    assert {"/v1/messages", "/v1/messages/{sid}", "/v1/phones/{phone}", "/v1/stats", "/v1/receipt-codes"} <= set(
        spec["paths"]
    )
    stats_schema = spec["components"]["schemas"]["Stats"]
    assert set(stats_schema["required"]) == {
        "since",
        "until",
        "total",
        "delivered",
        "failed",
        "pending",
        "no_receipt",
        "success_rate",
        "latency_ms",
        "groups",
        "timezone",
        "latency_error",
    }
    assert spec["paths"]["/v1/stats"]["get"]["parameters"][-1]["schema"]["enum"][0] == "day"


@pytest.mark.parametrize("window, state", [({}, "pending"), ({"no_receipt_after": 90 * 60}, "no_receipt")])
def test_the_no_receipt_window_is_a_setting(start_app, window, state):
    client = start_app(**window).client
    two_hours_ago = datetime.fromtimestamp(NOW - 2 * HOUR, UTC).isoformat()
    call = {"SentAt": two_hours_ago, "SendStatusSet": [{"SerialNo": "5000:9", "PhoneNumber": "+8613800000009"}]}
    assert client.post("/v1/messages", json=call).json()["messages"][0]["state"] == state
    assert client.get("/v1/stats").json()[state] == 1


def test_a_body_over_max_body_bytes_is_413(start_app):
    client = start_app(max_body_bytes=2048).client
    status = {"SerialNo": "5000:1", "PhoneNumber": "+8613800000001"}
    answer = client.post("/v1/messages", json={"SendStatusSet": [status] * 100})
    assert answer.status_code == 413 and answer.json()["result"] == 1003
    assert client.post("/v1/messages", json={"SendStatusSet": [status]}).json()["new"] == 1
