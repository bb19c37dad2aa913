"""What a hostile-input audit broke, each reproduced on both backends: in process, except where the HTTP
server is part of it (a client that leaves mid-body, a body slower than the timeout: a `delivrd serve`).

Promise 1 and 2 for any bytes: the body is in the inbox and the answer is JSON with a
documented result; an item the store cannot hold is quarantined alone; whatever was acked
can be read back through every route and the export.
"""

import asyncio
import json
import socket
import subprocess
import sys
import time
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delivrd.domain import results

GOOD = {
    "sid": "2019:1",
    "mobile": "13800138000",
    "nationcode": "86",
    "report_status": "SUCCESS",
    "errmsg": "DELIVRD",
    "description": "ok",
    "user_receive_time": "2026-11-24 10:00:00",
}
ACK = {"result": 0, "errmsg": "OK"}


def inbox(client: httpx.Client) -> list[dict]:
    return client.get("/v1/inbox", params={"limit": 1000}).json()["items"]


def json_answer(answer: httpx.Response, status: int, result: int) -> dict:
    assert answer.headers["content-type"] == "application/json", answer.text
    data = answer.json()
    assert (answer.status_code, data["result"]) == (status, result), data
    return data


def delivrd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "delivrd", *args], capture_output=True, text=True, timeout=60)


def test_invalid_utf8_in_a_string_is_quarantined_and_kept(client):
    body = b'[{"sid":"a1","mobile":"13800138000","report_status":"SUCCESS","description":"\xc8\xb7\xc8\xcf"},' + (
        json.dumps(GOOD).encode() + b"]"
    )
    assert client.post("/sms/callback", content=body).json() == ACK
    (entry,) = inbox(client)
    assert entry["outcome"] == "partial" and entry["body"] is None and entry["size"] == len(body)
    assert entry["body_base64"]  # the bytes as received
    (reject,) = client.get("/v1/rejects").json()["items"]
    assert reject["item_index"] == 0 and "not UTF-8" in reject["reason"]
    assert [r["sid"] for r in client.get("/v1/reports").json()["items"]] == ["2019:1"]


@pytest.mark.parametrize(
    ("body", "result"),
    [
        (b"[" * 1000 + b"]" * 1000, results.BAD_SHAPE),
        (b"\xff\xfe[\x00]", results.NOT_JSON),
        (b"[" + b"0," * 524_000 + b"0]", results.BAD_SHAPE),
    ],
    ids=["nested-1000", "utf16-bom", "half-a-million-items"],
)
def test_a_body_that_is_not_a_push_is_answered_400_and_kept(client, body, result):
    json_answer(client.post("/sms/callback", content=body), 400, result)
    (entry,) = inbox(client)
    assert entry["outcome"] == "rejected" and entry["size"] == len(body)
    assert len(client.get("/v1/rejects").json()["items"]) == 1  # one row, not one per item


def test_many_bad_items_are_counted_not_written_one_row_each(client):
    body = b"[" + b"0," * 5000 + json.dumps(GOOD).encode() + b"]"
    assert client.post("/sms/callback", content=body).json() == ACK
    (entry,) = inbox(client)
    assert (entry["items"], entry["rejected"], entry["outcome"]) == (5001, 5000, "partial")
    rejects = client.get("/v1/rejects", params={"limit": 1000}).json()["items"]
    assert len(rejects) == 101 and "4900 more item(s)" in rejects[0]["reason"]
    metrics = client.get("/metrics").text
    assert "delivrd_rejects_total 5000" in metrics


def test_an_impossible_date_is_acked_and_every_read_still_works(app, client):
    report = {**GOOD, "user_receive_time": "0001-01-01 00:00:00"}
    assert client.post("/sms/callback", json=[report]).json() == ACK
    (stored,) = client.get("/v1/reports").json()["items"]
    assert stored["user_receive_time"] == "0001-01-01 00:00:00" and stored["user_receive_at"] is None
    for path in (
        "/v1/reports?sid=2019:1",
        "/v1/reports?mobile=13800138000",
        "/v1/messages/2019:1",
        "/v1/phones/+8613800138000",
        "/v1/stats",
        "/v1/stats?by=hour",
        "/v1/stats?by=category",
    ):
        assert client.get(path).status_code == 200, path
    for what in ("reports", "messages"):
        for form in ("csv", "jsonl"):
            done = delivrd("export", what, "--format", form, *app.database_args())
            assert done.returncode == 0 and "2019:1" in done.stdout, done.stderr


def test_a_sent_at_the_api_cannot_show_is_refused_and_nothing_breaks(app, client):
    send = {
        "SentAt": "0001-01-01T00:00:00+14:00",
        "SendStatusSet": [{"SerialNo": "2019:1", "PhoneNumber": "+8613800138000", "Code": "Ok"}],
    }
    data = json_answer(client.post("/v1/messages", json=send), 400, results.BAD_BODY)
    assert "SentAt" in data["errmsg"]
    fee = {"SendStatusSet": [{"SerialNo": "2019:2", "PhoneNumber": "+8613800138000", "Fee": 99999999999999999999}]}
    json_answer(client.post("/v1/messages", content=json.dumps(fee)), 400, results.BAD_BODY)
    nul = {"SignName": "a\u0000", "SendStatusSet": [{"SerialNo": "2019:3", "PhoneNumber": "+8613800138000"}]}
    json_answer(client.post("/v1/messages", json=nul), 400, results.BAD_BODY)
    for path in ("/v1/phones/+8613800138000", "/v1/stats?by=hour"):
        assert client.get(path).status_code == 200
    assert delivrd("export", "messages", *app.database_args()).returncode == 0


@pytest.mark.parametrize("time_value", ["18446744073709551616", '"99999999999999999999"', "1e20"])
def test_a_reply_the_store_cannot_hold_fails_alone_among_concurrent_pushes(app, client, time_value):
    poisoned = b'{"mobile":"13800138000","text":"hi","time":' + time_value.encode() + b"}"

    async def scenario() -> list[httpx.Response]:
        async with app.async_client() as c:  # on the app's loop: the 80 pushes share the writer's commits
            valid = [c.post("/sms/callback", json=[{**GOOD, "sid": f"v{n}"}]) for n in range(60)]
            bad = [c.post("/sms/reply", content=poisoned) for _ in range(20)]
            return await asyncio.gather(*valid, *bad)

    answers = app.run(scenario)
    assert [a.json() for a in answers] == [ACK] * 80  # the poisoned replies are quarantined, not refused
    assert len(client.get("/v1/reports", params={"limit": 1000}).json()["items"]) == 60
    rejects = client.get("/v1/rejects", params={"route": "reply", "limit": 1000}).json()["items"]
    assert len(rejects) == 20 and all("'time'" in r["reason"] for r in rejects)


def test_one_number_out_of_range_does_not_refuse_the_batch(client):
    body = b"[" + json.dumps(GOOD).encode() + b',{"sid":"x","mobile":"1","report_status":"FAIL","n":1e999}]'
    assert client.post("/sms/callback", content=body).json() == ACK
    assert [r["sid"] for r in client.get("/v1/reports").json()["items"]] == ["2019:1"]
    (reject,) = client.get("/v1/rejects").json()["items"]
    assert reject["item_index"] == 1 and "out of range" in reject["reason"]


def test_a_repeated_key_is_quarantined_not_guessed(client):
    body = json.dumps(GOOD).encode()[:-1] + b',"report_status":"FAIL"}'
    assert client.post("/sms/callback", content=b"[" + body + b"]").json() == ACK
    assert client.get("/v1/reports").json()["items"] == []
    (reject,) = client.get("/v1/rejects").json()["items"]
    assert "'report_status' appears more than once" in reject["reason"]


def test_405_names_the_method_allowed(http_client):
    answer = http_client.get("/sms/callback")
    json_answer(answer, 405, results.METHOD_NOT_ALLOWED)
    assert answer.headers["allow"] == "POST"


def raw_request(port: int, head: bytes, body: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head + body)
    return sock


def wait_for_inbox(client: httpx.Client, count: int) -> list[dict]:
    """The inbox once it holds `count` entries (a request with no answer is recorded a moment later)."""
    deadline = time.monotonic() + 10
    while len(entries := inbox(client)) < count:
        assert time.monotonic() < deadline, entries
        time.sleep(0.05)
    return entries


def test_a_client_that_leaves_mid_body_is_kept_as_incomplete_not_as_its_push(server):
    whole = json.dumps([GOOD]).encode()
    head = b"POST /sms/callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    sock = raw_request(server.port, head + b"Content-Length: %d\r\n\r\n" % len(whole), whole[:40])
    time.sleep(0.2)
    sock.close()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        (entry,) = wait_for_inbox(client, 1)
        assert entry["outcome"] == "incomplete" and entry["body"] == whole[:40].decode()
        assert client.get("/v1/reports").json()["items"] == []  # the cut-off body was not read as reports


def test_a_body_slower_than_the_timeout_is_answered_408_and_kept(start_server):
    server = start_server("--body-timeout", "1")
    whole = json.dumps([GOOD]).encode()
    head = b"POST /sms/callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    sock = raw_request(server.port, head + b"Content-Length: %d\r\n\r\n" % len(whole), whole[:40])
    started = time.monotonic()
    answer = b""
    while chunk := sock.recv(65536):  # to the end: a 408 closes the connection
        answer += chunk
    sock.close()
    assert time.monotonic() - started < 5
    status, _, rest = answer.partition(b"\r\n")
    assert b" 408 " in status and json.loads(rest.partition(b"\r\n\r\n")[2]) == {
        "result": results.BODY_TIMEOUT,
        "errmsg": "the body did not arrive within 1s; raise the limit with --body-timeout or DELIVRD_BODY_TIMEOUT",
    }
    with httpx.Client(base_url=server.url) as client:
        (entry,) = wait_for_inbox(client, 1)
        assert entry["outcome"] == "incomplete" and entry["status"] == 408


def test_a_sid_with_a_newline_is_found_by_its_own_route(client):
    report = {**GOOD, "sid": "a\nb"}
    assert client.post("/sms/callback", json=[report]).json() == ACK
    found = client.get("/v1/messages/" + quote("a\nb", safe=""))
    assert found.status_code == 200 and found.json()["reports"][0]["sid"] == "a\nb"


@pytest.mark.parametrize(("nationcode", "mobile"), [("0", "13800138000"), ("999", "1"), ("86", "0"), ("1234", "5")])
def test_every_stored_phone_is_found_by_the_phone_route(client, nationcode, mobile):
    report = {**GOOD, "nationcode": nationcode, "mobile": mobile}
    assert client.post("/sms/callback", json=[report]).json() == ACK
    (stored,) = client.get("/v1/reports").json()["items"]
    if stored["phone"] is not None:
        timeline = client.get("/v1/phones/" + quote(stored["phone"], safe=""))
        assert timeline.status_code == 200 and timeline.json()["messages"][0]["reports"][0]["id"] == stored["id"]


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text()
    | st.sampled_from(["a\u0000b", "\ud800", "+8613800138000", "Ok", "0001-01-01T00:00:00+14:00", "x" * 200]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_status = st.fixed_dictionaries(
    {"PhoneNumber": st.sampled_from(["+8613800138000", "+860", "+0", "8613800138000", "+86" + "1" * 200]) | _values},
    optional=dict.fromkeys(("SerialNo", "Fee", "SessionContext", "Code", "Message", "IsoCode"), _values),
)
_call = st.fixed_dictionaries(
    {"SendStatusSet": st.lists(_status, max_size=3) | _values},
    optional={"TemplateId": _values, "SignName": _values, "SentAt": _values},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(call=_call)
def test_any_send_registration_is_stored_or_refused_in_json_and_reads_go_on(client, call):
    """POST /v1/messages faces the network too: whatever it is sent, a 200 or a JSON 400, never a 5xx."""
    try:
        content = json.dumps(call).encode("utf-8", "surrogatepass")
    except ValueError:
        return
    answer = client.post("/v1/messages", content=content)
    assert answer.status_code in (200, 400), answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.status_code == 200 or answer.json()["result"] == results.BAD_BODY
    assert client.get("/v1/phones/+8613800138000").status_code == 200
    assert client.get("/v1/stats", params={"by": "hour"}).status_code == 200
