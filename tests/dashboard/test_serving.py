"""The dashboard's HTTP side, in process: the page and its files, /v1/activity, and JSON 404s elsewhere."""

import json
import re

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
