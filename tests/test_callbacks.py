"""The callback routes over ASGI against delivrd in process: the real writer and store, on both backends.

What needs the HTTP server itself (a declared length refused before the body is sent; the
callback token from the environment of `delivrd serve`) is in test_connections and test_cli.
"""

import base64
import json

import httpx

from tests.factories import SEED_SAMPLE, batch, body, report

ACK = {"result": 0, "errmsg": "OK"}


def push(client: httpx.Client, items, path="/sms/callback", **kwargs) -> httpx.Response:
    return client.post(path, content=body(items), headers={"content-type": "application/json"}, **kwargs)


def all_reports(client: httpx.Client, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = client.get("/v1/reports", params={**params, "limit": 1000, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        data = page.json()
        items += data["items"]
        cursor = data["next_cursor"]
        if cursor is None:
            return items


def metric(client: httpx.Client, name: str) -> int:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_seed_sample_gets_exact_ack_and_is_returned_with_every_field(client):
    answer = push(client, SEED_SAMPLE)
    assert answer.status_code == 200
    assert answer.content == b'{"result":0,"errmsg":"OK"}'
    assert answer.headers["content-type"] == "application/json"
    [stored] = client.get("/v1/reports", params={"sid": "xxxxxxx"}).json()["items"]
    for name, value in SEED_SAMPLE[0].items():
        assert stored[name] == value, name
    assert stored["ext"] is None
    assert stored["phone"] is None  # the sample's mobile is masked
    assert stored["user_receive_at"] == "2015-10-17T08:03:04+08:00"
    assert stored["received_at"].endswith("Z")
    assert stored["duplicates"] == 0


def test_phone_is_e164_when_digits(client):
    assert push(client, [report(1)]).json() == ACK
    [stored] = client.get("/v1/reports", params={"mobile": "13800000001"}).json()["items"]
    assert stored["phone"] == "+8613800000001"


def test_full_batch_of_100_and_a_larger_one(client):
    assert push(client, batch(0, 100)).json() == ACK
    assert push(client, batch(100, 250)).json() == ACK
    stored = all_reports(client)
    assert len(stored) == 350
    assert {r["sid"] for r in stored} == {report(n)["sid"] for n in range(350)}


def test_lone_object_and_empty_array_are_accepted(client):
    assert push(client, report(7)).json() == ACK
    assert push(client, []).json() == ACK
    assert [r["sid"] for r in all_reports(client)] == [report(7)["sid"]]


def test_duplicate_batch_is_stored_once_and_counted(client):
    items = batch(0, 100)
    for _ in range(3):  # the first push and Tencent's two retries
        assert push(client, items).json() == ACK
    stored = all_reports(client)
    assert len(stored) == 100
    assert {r["duplicates"] for r in stored} == {2}
    assert metric(client, "delivrd_reports_total") == 100
    assert metric(client, "delivrd_report_duplicates_total") == 200
    assert metric(client, "delivrd_inbox_total") == 3


def test_same_sid_with_a_different_outcome_is_a_different_report(client):
    assert push(client, [report(1, report_status="FAIL", errmsg="UNDELIV")]).json() == ACK
    assert push(client, [report(1)]).json() == ACK
    assert len(all_reports(client, sid=report(1)["sid"])) == 2


def test_not_json_is_400_and_kept_in_the_inbox(client):
    answer = client.post("/sms/callback", content=b"\xff\xfenot json at all")
    assert answer.status_code == 400
    data = answer.json()
    assert data["result"] == 1001 and "not valid JSON" in data["errmsg"]
    [entry] = client.get("/v1/inbox", params={"outcome": "rejected"}).json()["items"]
    assert entry["status"] == 400 and entry["body"] is None
    assert base64.b64decode(entry["body_base64"]) == b"\xff\xfenot json at all"
    [reject] = client.get("/v1/rejects").json()["items"]
    assert reject["item_index"] is None and "not valid JSON" in reject["reason"]


def test_json_of_the_wrong_shape_is_400(client):
    answer = push(client, "just a string")
    assert answer.status_code == 400 and answer.json()["result"] == 1002
    assert client.get("/v1/inbox").json()["items"][0]["body"] == '"just a string"'


def test_two_bad_items_among_good_ones(client):
    items = batch(0, 10)
    del items[3]["sid"]
    items[6]["report_status"] = "MAYBE"
    assert push(client, items).json() == ACK
    stored = all_reports(client)
    assert len(stored) == 8
    rejects = client.get("/v1/rejects").json()["items"]
    assert sorted((r["item_index"], r["reason"]) for r in rejects) == [
        (3, "missing required field(s): sid"),
        (6, "report_status must be SUCCESS or FAIL, got 'MAYBE'"),
    ]
    by_index = {r["item_index"]: json.loads(r["raw"]) for r in rejects}
    assert by_index[3] == items[3] and by_index[6] == items[6]
    [entry] = client.get("/v1/inbox").json()["items"]
    assert (entry["outcome"], entry["items"], entry["rejected"]) == ("partial", 10, 2)
    assert json.loads(entry["body"]) == items


def test_text_with_a_nul_character_is_quarantined_on_every_backend(client):
    items = batch(0, 3)
    items[1]["description"] = "bad\x00byte"
    assert push(client, items).json() == ACK
    assert len(all_reports(client)) == 2
    [reject] = client.get("/v1/rejects").json()["items"]
    assert reject["item_index"] == 1 and "NUL character" in reject["reason"]
    assert json.loads(reject["raw"]) == items[1]
    answer = client.post("/sms/callback", content=b"\x00not json")
    assert answer.status_code == 400 and answer.json()["result"] == 1001
    assert client.get("/v1/inbox").json()["items"][0]["body_base64"] is None  # kept whole, NUL included


def test_unknown_codes_extra_fields_and_numbers_are_kept(client):
    item = report(
        1,
        errmsg="ZZ:9999",
        description="something new",
        ext="order-42",
        push_seq=3,
        carrier={"name": "CMCC"},
        nationcode=86,
    )
    assert push(client, [item]).json() == ACK
    [stored] = all_reports(client)
    assert stored["errmsg"] == "ZZ:9999" and stored["description"] == "something new"
    assert stored["ext"] == "order-42"
    assert stored["extra"] == {"push_seq": 3, "carrier": {"name": "CMCC"}}
    assert stored["nationcode"] == "86"


def test_body_over_the_limit_is_413_and_kept_as_too_large(start_app):
    client = start_app(max_body_bytes=1024).client
    answer = push(client, batch(0, 50))
    assert answer.status_code == 413 and answer.json()["result"] == 1003
    assert push(client, batch(0, 2)).json() == ACK
    [entry] = client.get("/v1/inbox", params={"outcome": "too_large"}).json()["items"]
    assert entry["body"] is None and entry["size"] > 1024


TOO_LARGE = "the body is larger than the limit of 1024 bytes; raise it with --max-body-bytes or DELIVRD_MAX_BODY_BYTES"


def test_a_413_names_the_limit_and_the_setting_that_raises_it(start_http_app):
    """A person who meets the limit learns what it is and how it is set, on every route that has it."""
    client = start_http_app(max_body_bytes=1024).client
    for path in ("/sms/callback", "/sms/reply"):
        answer = push(client, batch(0, 50), path=path)
        assert (answer.status_code, answer.json()) == (413, {"result": 1003, "errmsg": TOO_LARGE}), path
    answer = client.post("/v1/messages", content=b"[" + b" " * 2000 + b"]")
    assert answer.status_code == 413
    assert answer.json()["errmsg"] == TOO_LARGE + "; post fewer SendSms calls at once or use `delivrd import sends`"


def test_chunked_body_over_the_limit_is_413(start_app):
    """No declared length: the limit is counted as the chunks arrive (one ASGI message each)."""
    client = start_app(max_body_bytes=1000).client

    def chunks():
        for _ in range(10):
            yield b"x" * 500

    answer = client.post("/sms/callback", content=chunks())
    assert answer.status_code == 413 and answer.json()["result"] == 1003


NO_TOKEN = "no ?token= given: this callback URL needs the token delivrd runs with (--callback-token)"
WRONG_TOKEN = "the ?token= given is not the one configured (--callback-token)"


def test_callback_token(start_app):
    """A request without the token is answered 401 and counted, not stored: a flood of them cannot fill the disk."""
    app = start_app(callback_token="s3cret-token")
    client = app.client
    for params, errmsg in (
        ({}, NO_TOKEN),
        ({"token": ""}, NO_TOKEN),
        ({"token": "wrong"}, WRONG_TOKEN),
        ({"token": "s3cret-tokenX"}, WRONG_TOKEN),
    ):
        answer = push(client, [report(1)], params=params)
        assert (answer.status_code, answer.json()) == (401, {"result": 1004, "errmsg": errmsg}), params
    assert push(client, [report(1)], params={"token": "s3cret-token"}).json() == ACK
    assert len(all_reports(client)) == 1
    assert [entry["outcome"] for entry in client.get("/v1/inbox").json()["items"]] == ["stored"]
    assert app.asgi.refused_callbacks() == 4
    assert client.get("/v1/activity").json()["refused_callbacks"] == 4


def test_wrong_method_is_json_405(http_client):
    answer = http_client.get("/sms/callback")
    assert answer.status_code == 405 and answer.json()["result"] == 1005


def test_reply_callback_is_stored_once(client):
    reply = {
        "extend": "",
        "mobile": "13800138000",
        "nationcode": "86",
        "sign": "腾讯云",
        "text": "退订",
        "time": 1700000000,
        "channel": "x",
    }
    for _ in range(2):
        assert push(client, reply, path="/sms/reply").json() == ACK
    [stored] = client.get("/v1/replies").json()["items"]
    assert stored["text"] == "退订" and stored["time"] == 1700000000 and stored["duplicates"] == 1
    assert stored["phone"] == "+8613800138000" and stored["extra"] == {"channel": "x"}
    assert push(client, {"text": "no number"}, path="/sms/reply").json() == ACK
    [reject] = client.get("/v1/rejects", params={"route": "reply"}).json()["items"]
    assert reject["reason"] == "missing required field(s): mobile"
