"""The opt-out list on both backends, through the real callback route (`/sms/reply`) and the API."""

from __future__ import annotations

import json

import pytest

ACK = {"result": 0, "errmsg": "OK"}
PHONE = "+8613800138000"


def reply(text: str, mobile: str = "13800138000", time: int = 1790000000, **changes):
    item = {"extend": "01", "mobile": mobile, "nationcode": "86", "sign": "Acme", "text": text, "time": time}
    item.update(changes)
    return item


def push_reply(app, item) -> None:
    """Push a reply and let delivrd look at it, as its loop does every second (awaited here, not slept on)."""
    answer = app.client.post("/sms/reply", content=json.dumps(item, ensure_ascii=False).encode())
    assert answer.json() == ACK
    app.run(app.asgi.optouts.catch_up)


def changes(client, phone=PHONE):
    return [
        (c["action"], c["source"], c["note"])
        for c in reversed(client.get(f"/v1/phones/{phone}").json()["optout"]["changes"])
    ]


def test_a_td_reply_puts_the_number_on_the_list_and_start_takes_it_off(app):
    client = app.client
    push_reply(app, reply("TD"))
    listed = client.get("/v1/optouts").json()
    assert [(o["phone"], o["action"], o["source"], o["sign"], o["extend"], o["note"]) for o in listed["items"]] == [
        (PHONE, "added", "reply", "Acme", "01", "TD")
    ]
    assert listed["items"][0]["reply_id"] == client.get("/v1/replies").json()["items"][0]["id"]
    view = client.get(f"/v1/phones/{PHONE}").json()
    assert view["optout"]["opted_out"] is True and view["optout"]["entry"]["note"] == "TD"
    assert [r["text"] for r in view["replies"]] == ["TD"]

    push_reply(app, reply("ｓｔａｒｔ\u3000", time=1790000100))
    assert client.get("/v1/optouts").json()["items"] == []
    view = client.get(f"/v1/phones/{PHONE}").json()
    assert view["optout"]["opted_out"] is False and view["optout"]["entry"] is None
    assert [r["text"] for r in view["replies"]] == ["ｓｔａｒｔ\u3000", "TD"]
    assert changes(client) == [("added", "reply", "TD"), ("removed", "reply", "ｓｔａｒｔ\u3000")]


def test_a_duplicate_push_of_a_reply_makes_no_second_change(app):
    client = app.client
    push_reply(app, reply("TD"))
    push_reply(app, reply("START", time=1790000100))
    push_reply(app, reply("TD"))  # Tencent's retry of the first: a duplicate, not a new reply
    assert client.get("/v1/replies").json()["items"][1]["duplicates"] == 1
    assert changes(client) == [("added", "reply", "TD"), ("removed", "reply", "START")]
    assert client.get(f"/v1/phones/{PHONE}").json()["optout"]["opted_out"] is False


def test_replies_that_change_nothing_are_not_changes(app):
    client = app.client
    for n, text in enumerate(["hello", "START", "TD", "退订", "I said TD", "R"]):
        push_reply(app, reply(text, time=1790000000 + n))
    assert changes(client) == [("added", "reply", "TD")]  # START when not listed, 退订/R when listed: no change
    assert len(client.get(f"/v1/phones/{PHONE}").json()["replies"]) == 6


def test_manual_entries_and_replies_apply_in_order(app):
    client = app.client
    added = client.post("/v1/optouts", json={"phone": PHONE, "sign": "Acme", "note": "asked by phone"})
    assert added.status_code == 201
    assert (added.json()["action"], added.json()["source"], added.json()["note"]) == (
        "added",
        "manual",
        "asked by phone",
    )
    again = client.post("/v1/optouts", json={"phone": "13800138000"})  # digits alone: +86; already listed
    assert again.status_code == 200 and again.json()["id"] == added.json()["id"]
    push_reply(app, reply("TD"))  # already on the list: no change
    removed = client.delete(f"/v1/optouts/{PHONE}", params={"note": "customer called back"})
    assert removed.status_code == 200 and removed.json()["action"] == "removed"
    assert client.delete(f"/v1/optouts/{PHONE}").status_code == 404
    push_reply(app, reply("R", time=1790000200))
    assert changes(client) == [
        ("added", "manual", "asked by phone"),
        ("removed", "manual", "customer called back"),
        ("added", "reply", "R"),
    ]
    history = client.get("/v1/optouts/changes", params={"phone": PHONE}).json()["items"]
    assert [c["id"] for c in history] == sorted((c["id"] for c in history), reverse=True)


def test_the_list_is_paged_and_filtered(app):
    client = app.client
    for n in range(5):
        push_reply(app, reply("TD", mobile=f"1380000000{n}", sign="Acme" if n % 2 else "Other", time=1790000000 + n))
    client.post("/v1/optouts", json={"phone": "+8613900000000", "sign": "Acme"})
    first = client.get("/v1/optouts", params={"limit": 4}).json()
    rest = client.get("/v1/optouts", params={"limit": 4, "cursor": first["next_cursor"]}).json()
    assert len(first["items"]) == 4 and len(rest["items"]) == 2 and rest["next_cursor"] is None
    assert [o["phone"] for o in client.get("/v1/optouts", params={"source": "manual"}).json()["items"]] == [
        "+8613900000000"
    ]
    assert len(client.get("/v1/optouts", params={"sign": "Acme"}).json()["items"]) == 3
    assert len(client.get("/v1/optouts", params={"extend": "01", "source": "reply"}).json()["items"]) == 5
    one = client.get("/v1/optouts", params={"phone": "13800000003"}).json()["items"]
    assert [o["phone"] for o in one] == ["+8613800000003"]
    assert client.get("/v1/optouts", params={"since": "2999-01-01"}).json()["items"] == []
    assert len(client.get("/v1/optouts", params={"until": "2999-01-01"}).json()["items"]) == 6


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "fragment"),
    [
        ("post", "/v1/optouts", {"content": b"not json"}, 400, "JSON object with phone"),
        ("post", "/v1/optouts", {"json": {"sign": "Acme"}}, 400, "phone"),
        ("post", "/v1/optouts", {"json": {"phone": "+861", "colour": "red"}}, 400, "colour"),
        ("post", "/v1/optouts", {"json": {"phone": "abc"}}, 400, "got 'abc'"),
        ("post", "/v1/optouts", {"json": {"phone": PHONE, "sign": "x" * 200}}, 400, "sign"),
        ("post", "/v1/optouts", {"json": {"phone": PHONE, "note": "a\x00b"}}, 400, "NUL"),
        ("get", "/v1/optouts", {"params": {"source": "fax"}}, 400, "source must be one of"),
        ("get", "/v1/optouts", {"params": {"colour": "red"}}, 400, "unknown query parameter"),
        ("delete", "/v1/optouts/abc", {}, 400, "got 'abc'"),
    ],
)
def test_mistakes_are_clear_json_errors(http_client, method, path, kwargs, status, fragment):
    answer = getattr(http_client, method)(path, **kwargs) if method != "post" else http_client.post(path, **kwargs)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json" and fragment in answer.json()["errmsg"]


def test_the_routes_need_the_api_key(start_http_app):
    client = start_http_app(api_key="k").client
    assert client.get("/v1/optouts").status_code == 401
    assert client.post("/v1/optouts", json={"phone": PHONE}).status_code == 401
    assert client.delete(f"/v1/optouts/{PHONE}").status_code == 401
    ok = client.post("/v1/optouts", json={"phone": PHONE}, headers={"authorization": "Bearer k"})
    assert ok.status_code == 201


def test_replies_stored_while_none_looked_are_applied_at_the_next_start(start_app):
    first = start_app()
    first.run(first.asgi.optouts.close)  # as if it stopped right after the commit: the reply stays pending
    assert first.client.post("/sms/reply", content=json.dumps(reply("退订"), ensure_ascii=False).encode()).json() == ACK
    assert first.client.get("/v1/optouts").json()["items"] == []
    again = start_app(db=first.db)
    assert [o["note"] for o in again.client.get("/v1/optouts").json()["items"]] == ["退订"]
    again.run(again.asgi.optouts.catch_up)  # looked at once: nothing left
    assert len(again.client.get("/v1/optouts/changes").json()["items"]) == 1


def test_a_masked_number_is_stored_but_cannot_be_listed(app):
    push_reply(app, reply("TD", mobile="138xxxx8000"))
    assert app.client.get("/v1/optouts").json()["items"] == []
    assert app.client.get("/v1/optouts/changes").json()["items"] == []


def test_retention_keeps_the_list(app):
    push_reply(app, reply("TD"))
    removed = app.run(lambda: app.asgi.store.prune(2**62))
    assert removed["replies"] == 1
    assert [o["phone"] for o in app.client.get("/v1/optouts").json()["items"]] == [PHONE]


def test_replies_stored_before_the_list_existed_are_applied_after_upgrading(backend, start_app, tmp_path):
    from tests.store.test_insight import sql
    from tests.test_migrations import make_old_database

    db = tmp_path / "old.db"
    make_old_database(backend, db, before="optouts")
    columns = "dedup_key, extend, mobile, nationcode, sign, text, time, phone, inbox_id, received_at"
    sql(
        backend,
        db,
        f"INSERT INTO replies ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (b"k1", "01", "13800138000", "86", "Acme", "TD", 1790000000, PHONE, 1, 1_790_000_000_000_000),
            (b"k2", "01", "13800138001", "86", "Acme", "hello", 1790000000, "+8613800138001", 1, 1_790_000_000_000_001),
        ],
    )
    app = start_app(db=db, migrate=True)
    assert [(o["phone"], o["note"], o["at"]) for o in app.client.get("/v1/optouts").json()["items"]] == [
        (PHONE, "TD", "2026-09-21T14:13:20.000000Z")
    ]


def test_the_openapi_document_describes_every_v1_route_and_method(start_http_app):
    """The routes the app serves under /v1 against the document: a route added without its description fails."""
    app = start_http_app()
    spec = app.client.get("/openapi.json").json()
    served = {
        (route.path.replace(":anytext", ""), method.lower())
        for route in app.asgi.web.routes
        if route.path.startswith("/v1/")
        for method in (route.methods or ()) - {"HEAD"}
    }
    documented = {(path, method) for path, item in spec["paths"].items() if path.startswith("/v1/") for method in item}
    assert served == documented
    assert {("/v1/optouts", "get"), ("/v1/optouts", "post"), ("/v1/optouts/{phone}", "delete")} <= documented
