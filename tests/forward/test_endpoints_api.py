"""`/v1/endpoints` and `delivrd endpoints`: definitions checked, kept in the database, shown with state and lag."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from delivrd.forward.event import TYPES

HOOK = "http://127.0.0.1:9/hook"  # nothing listens there: these tests never need a delivery


def test_add_list_show_remove(client):
    added = client.post("/v1/endpoints", json={"url": HOOK})
    assert added.status_code == 201, added.text
    ep = added.json()
    assert ep["id"].startswith("ep_") and ep["secret"].startswith("whsec_")
    assert ep["events"] == list(TYPES) and ep["batch"] is False and ep["state"] == "active"
    assert ep["lag"] == {"events": 0, "retrying": 0, "failed": 0, "seconds": 0.0}
    assert [e["id"] for e in client.get("/v1/endpoints").json()["items"]] == [ep["id"]]
    shown = client.get(f"/v1/endpoints/{ep['id']}").json()
    assert shown["url"] == HOOK and shown["failures"] == []
    assert client.delete(f"/v1/endpoints/{ep['id']}").json() == {"id": ep["id"], "removed": True}
    assert client.get(f"/v1/endpoints/{ep['id']}").status_code == 404
    assert client.delete(f"/v1/endpoints/{ep['id']}").status_code == 404
    assert client.get("/v1/endpoints").json() == {"items": []}


def test_a_definition_is_kept_as_given(client):
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    spec = {
        "url": "redis://127.0.0.1:6379/0?stream=sms",
        "events": ["report.failed", "message.no_receipt"],
        "secret": secret,
        "batch": True,
        "filters": {"nationcode": ["86"], "category": ["blocked"]},
    }
    ep = client.post("/v1/endpoints", json=spec).json()
    assert {k: ep[k] for k in spec} == spec


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": HOOK, "events": ["report.lost"]}, "unknown: report.lost"),
        ({"url": HOOK, "events": []}, "at least one"),
        ({"url": HOOK, "secret": "not-a-secret"}, "whsec_"),
        ({"url": HOOK, "filters": {"colour": ["red"]}}, "colour"),
        ({"url": HOOK, "extra": 1}, "extra"),
        ({"events": ["report.failed"]}, "url"),
    ],
)
def test_a_bad_definition_is_a_clear_400(http_client, spec, fragment):
    answer = http_client.post("/v1/endpoints", json=spec)
    assert answer.status_code == 400
    assert answer.json()["result"] == 1009 and fragment.lower() in answer.json()["errmsg"].lower()
    assert http_client.get("/v1/endpoints").json() == {"items": []}


def test_not_json_and_too_large_bodies(http_client):
    assert http_client.post("/v1/endpoints", content=b"{nope").status_code == 400
    assert http_client.post("/v1/endpoints", content=b"x" * 70_000).status_code == 413


def test_replay_checks_its_window_and_queues_the_events(client):
    from tests.factories import body, report

    ep = client.post("/v1/endpoints", json={"url": HOOK}).json()
    assert client.post("/sms/callback", content=body([report(1), report(2)])).json()["result"] == 0
    bad = client.post(f"/v1/endpoints/{ep['id']}/replay", json={"since": "2026-11-25", "until": "2026-11-24"})
    assert bad.status_code == 400 and "before" in bad.json()["errmsg"]
    assert client.post(f"/v1/endpoints/{ep['id']}/replay", json={"until": "2026-11-24"}).status_code == 400
    assert client.post("/v1/endpoints/ep_missing/replay", json={"since": "2020-01-01"}).status_code == 404
    queued = client.post(f"/v1/endpoints/{ep['id']}/replay", json={"since": "2020-01-01"}).json()
    assert queued == {"queued": 2}


def test_enable_answers_the_endpoint(client):
    ep = client.post("/v1/endpoints", json={"url": HOOK}).json()
    assert client.post(f"/v1/endpoints/{ep['id']}/enable").json()["state"] == "active"
    assert client.post("/v1/endpoints/ep_missing/enable").status_code == 404


def test_the_key_guards_endpoints(start_http_app):
    app = start_http_app(api_key="k" * 32)
    assert app.client.get("/v1/endpoints").status_code == 401
    assert app.client.post("/v1/endpoints", json={"url": HOOK}).status_code == 401
    answer = app.client.get("/v1/endpoints", headers={"Authorization": "Bearer " + "k" * 32})
    assert answer.json() == {"items": []}


def delivrd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "delivrd", *args], capture_output=True, text=True, timeout=60)


def test_the_command_line_manages_the_same_endpoints(tmp_path):
    db = str(tmp_path / "d.db")
    assert delivrd("db", "upgrade", "--db", db).returncode == 0
    added = delivrd("endpoints", "add", HOOK, "--events", "report.failed", "--nationcode", "86,852", "--db", db)
    assert added.returncode == 0, added.stderr
    ep = json.loads(added.stdout)
    assert ep["events"] == ["report.failed"] and ep["filters"] == {"nationcode": ["86", "852"]}
    listed = delivrd("endpoints", "list", "--db", db)
    assert ep["id"] in listed.stdout and "active" in listed.stdout
    assert json.loads(delivrd("endpoints", "show", ep["id"], "--db", db).stdout)["id"] == ep["id"]
    replayed = delivrd("endpoints", "replay", ep["id"], "--since", "2020-01-01", "--db", db)
    assert replayed.stdout.startswith("queued 0 events")
    assert delivrd("endpoints", "enable", ep["id"], "--db", db).returncode == 0
    assert delivrd("endpoints", "remove", ep["id"], "--db", db).returncode == 0
    missing = delivrd("endpoints", "show", ep["id"], "--db", db)
    assert missing.returncode == 1 and "no endpoint" in missing.stderr
    bad = delivrd("endpoints", "add", "ftp://x", "--db", db)
    assert bad.returncode == 2 and "url" in bad.stderr.lower() and "Traceback" not in bad.stderr
    nodb = delivrd("endpoints", "list", "--db", str(tmp_path / "typo.db"))
    assert nodb.returncode == 2 and "no database" in nodb.stderr
