"""The dashboard's HTTP side, in process: the page and its files, /v1/activity, and JSON 404s elsewhere."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import batch, body, report

ACK = {"result": 0, "errmsg": "OK"}


def test_page_and_assets_are_served_with_a_strict_policy(http_client):
    page = http_client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    # relative URLs only, so a reverse-proxy prefix keeps working; nothing from elsewhere
    for ref in ("assets/app.js", "assets/i18n.js", "assets/style.css", "assets/vendor/uPlot.iife.min.js"):
        assert f'"{ref}"' in html
        assert http_client.get("/" + ref).status_code == 200
    assert 'src="/' not in html and 'href="/' not in html and "http" not in html
    script_type = http_client.get("/assets/app.js").headers["content-type"]
    assert script_type.startswith(("text/javascript", "application/javascript"))


def test_unknown_paths_stay_json_404(http_client):
    for path in ("/assets/nope.js", "/assets/../app.py", "/assets/index.html", "/nope", "/v1/nope"):
        answer = http_client.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["result"] == 1006, path
    assert http_client.post("/").json()["result"] == 1005


def test_other_routes_still_answer(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/v1/reports").json() == {"items": [], "next_cursor": None}
    assert "/v1/activity" in client.get("/openapi.json").json()["paths"]


def test_activity_counts_and_last_callback(client):
    empty = client.get("/v1/activity").json()
    assert empty == {
        "last_callback": None,
        "inbox": 0,
        "reports": 0,
        "report_duplicates": 0,
        "replies": 0,
        "rejects": 0,
        "refused_callbacks": 0,
    }
    assert client.post("/sms/callback", content=body(batch(0, 3))).json() == ACK
    assert client.post("/sms/callback", content=body(batch(0, 2))).json() == ACK  # two duplicates
    bad = [report(9), {"sid": "x", "mobile": "1"}]  # the second lacks report_status
    assert client.post("/sms/callback", content=body(bad)).json() == ACK
    data = client.get("/v1/activity").json()
    assert data["last_callback"]["route"] == "callback"
    assert data["last_callback"]["outcome"] == "partial"
    assert (data["last_callback"]["items"], data["last_callback"]["rejected"]) == (2, 1)
    assert data["last_callback"]["received_at"].endswith("Z")
    assert (data["inbox"], data["reports"], data["report_duplicates"], data["rejects"]) == (3, 4, 2, 1)


def test_last_callback_is_an_authenticated_one_and_refused_ones_are_counted(start_app):
    """A scanner's requests without the token are not "the last callback": they are counted apart, and the
    dashboard warns of them."""
    client = start_app(callback_token="t0ken").client
    assert client.post("/sms/callback", params={"token": "t0ken"}, content=body(batch(0, 1))).json() == ACK
    for token in ("", "wrong", "guess"):
        assert client.post("/sms/callback", params={"token": token}, content=body(batch(5, 1))).status_code == 401
    data = client.get("/v1/activity").json()
    assert (data["last_callback"]["outcome"], data["inbox"], data["refused_callbacks"]) == ("stored", 1, 3)
    assert "card.refused" in client.get("/assets/app.js").text


def test_activity_rejects_parameters(http_client):
    answer = http_client.get("/v1/activity", params={"since": "2026-01-01"})
    assert answer.status_code == 400
    assert answer.json()["result"] == 1007


def test_api_key_guards_activity_but_not_the_page_shell(start_http_app):
    c = start_http_app(api_key="s3cret").client
    assert c.get("/").status_code == 200  # the shell holds no data: it asks for the key
    assert c.get("/v1/activity").json()["result"] == 1008
    assert c.get("/v1/activity", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_every_label_is_in_english_and_chinese(http_client):
    text = http_client.get("/assets/i18n.js").text
    labels = json.loads(text[text.index("{", text.index("DELIVRD_I18N")) : text.rindex("}") + 1])
    assert set(labels["en"]) == set(labels["zh"])
    used = set(re.findall(r'\bt\("([a-z_]+\.[a-z_0-9]+)"', http_client.get("/assets/app.js").text))
    assert used and used <= set(labels["en"]), used - set(labels["en"])


def _sent(client, sid: str, phone: str, sent_at: datetime) -> None:
    call = {"SentAt": sent_at.isoformat(), "SendStatusSet": [{"SerialNo": sid, "PhoneNumber": phone, "Code": "Ok"}]}
    assert client.post("/v1/messages", json=call).status_code == 200


def test_activity_counts_messages_minute_by_minute(client):
    """`since` (and `until`) ask for the messages of a range, minute by minute: the last hour's chart."""
    now = datetime.now(UTC).replace(second=30, microsecond=0)
    minute = timedelta(minutes=1)
    # two sends 10 minutes ago (one delivered, one failed), one 3 minutes ago (pending), one before the range
    _sent(client, "2019:m1", "+8613800000001", now - 10 * minute)
    _sent(client, "2019:m2", "+8613800000002", now - 10 * minute + timedelta(seconds=20))
    _sent(client, "2019:m3", "+8613800000003", now - 3 * minute)
    _sent(client, "2019:m4", "+8613800000004", now - 90 * minute)
    receipts = [
        report(0, sid="2019:m1", mobile="13800000001"),
        report(0, sid="2019:m2", mobile="13800000002", report_status="FAIL", errmsg="MK:0001"),
    ]
    assert client.post("/sms/callback", content=body(receipts)).json() == ACK
    since = now - 60 * minute
    data = client.get("/v1/activity", params={"since": since.isoformat()}).json()
    assert data["inbox"] == 1  # the rest of the answer as without a range
    ten, three = (iso_minute(now - n * minute) for n in (10, 3))
    assert [(m["key"], m["total"], m["delivered"], m["failed"], m["pending"]) for m in data["minutes"]] == [
        (ten, 2, 1, 1, 0),
        (three, 1, 0, 0, 1),
    ]
    assert data["minutes"][0]["success_rate"] == 0.5 and data["minutes"][1]["success_rate"] is None
    # until bounds it too; a range without messages has no minutes
    early = client.get("/v1/activity", params={"since": since.isoformat(), "until": (now - 5 * minute).isoformat()})
    assert [m["key"] for m in early.json()["minutes"]] == [ten]
    empty = client.get(
        "/v1/activity", params={"since": (now + minute).isoformat(), "until": (now + 2 * minute).isoformat()}
    )
    assert empty.json()["minutes"] == []
    assert "minutes" not in client.get("/v1/activity").json()  # not asked for: the answer is as it was


def iso_minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"until": "2026-11-25T12:00:00Z"}, "until needs since"),
        ({"since": "2026-11-25T00:00:00Z", "until": "2026-11-25T06:00:01Z"}, "at most 360 minutes"),
        ({"since": "2026-01-01"}, "at most 360 minutes"),  # until defaults to now
        ({"since": "2026-11-25T12:00:00Z", "until": "2026-11-25T11:00:00Z"}, "since must be before until"),
        ({"since": "an hour ago"}, "since must be an ISO 8601"),
        ({"by": "minute"}, "unknown query parameter(s): by; this route takes since, until"),
    ],
)
def test_activity_checks_its_range(http_client, params, fragment):
    answer = http_client.get("/v1/activity", params=params)
    assert answer.status_code == 400
    assert answer.json()["result"] == 1007
    assert fragment in answer.json()["errmsg"]
