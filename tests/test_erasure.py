"""Erasure: `DELETE /v1/phones/{e164}` and `delivrd purge --phone` remove a number everywhere it is kept.

After a purge no row of any table (every table dumped: SQLite's rows, PostgreSQL's as text) holds the number's
digits, nor (SQLite) any byte of the file and its -wal after the checkpoint the purge runs: the space it frees is
zeroed (secure_delete). The data here is too small for page splits, whose stale copies in free space only
VACUUM removes (docs/personal-data.md). The other numbers in the same bodies are untouched, byte for byte;
`/v1/stats` counts the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import apsw
import pytest

from delivrd.domain.erasure import Masker
from tests.databases import postgres
from tests.factories import body, report
from tests.servers import InProcessApp

ACK = {"result": 0, "errmsg": "OK"}
TARGET = "13800138000"  # +86: the number erased
OTHER = "13900139000"  # +86: a number that stays, in the same bodies
NEAR = "13800138009"  # one digit apart: stays too
TARGET_HEX = TARGET.encode().hex()
STARS = b"*" * len(TARGET)


def sends(mobile: str, sid: str, code: str = "Ok") -> dict:
    return {
        "SendStatusSet": [{"PhoneNumber": f"+86{mobile}", "SerialNo": sid if code == "Ok" else None, "Code": code}],
        "TemplateId": "1001",
        "SignName": "delivrd",
        "SentAt": "2026-11-24T01:00:00Z",
    }


def feed(client) -> dict[str, bytes]:
    """Every place the number can be kept, beside other numbers; returns the bodies posted, by name."""
    for mobile, sid in ((TARGET, "2019:t1"), (OTHER, "2019:o1"), (NEAR, "2019:n1")):
        assert client.post("/v1/messages", json=sends(mobile, sid)).status_code == 200
    assert client.post("/v1/messages", json=sends(TARGET, "", code="InvalidParameterValue.IncorrectPhoneNumber"))
    bodies = {
        "strings": body(
            [
                report(1, sid="2019:t1", mobile=TARGET),
                report(2, sid="2019:o1", mobile=OTHER),
                report(3, sid="2019:n1", mobile=NEAR),
            ]
        ),
        # Tencent may send numbers as JSON numbers; a receipt with no registered send, which failed
        "numbers": (
            b'[{"sid":"2019:t2","mobile":13800138000,"nationcode":86,"report_status":"FAIL","errmsg":"MK:0001",'
            b'"description":"x","user_receive_time":"2026-11-24 10:00:00"},'
            b'{"sid":"2019:o2","mobile":13900139000,"nationcode":86,"report_status":"SUCCESS","errmsg":"DELIVRD",'
            b'"description":"x","user_receive_time":"2026-11-24 10:00:00"}]'
        ),
        # the country code in `mobile` (as some senders do), and a quarantined item holding the number
        "partial": body(
            [
                report(4, sid="2019:t3", mobile=f"+86{TARGET}", nationcode=None),
                {"sid": "2019:t4", "mobile": TARGET, "nationcode": "86"},  # no report_status: quarantined
                report(5, sid="2019:o3", mobile=OTHER),
            ]
        ),
        "not json": f"mobile={TARGET}&other={OTHER}".encode(),
    }
    for name in ("strings", "numbers", "partial", "not json"):
        answer = client.post("/sms/callback", content=bodies[name])
        assert answer.status_code == (400 if name == "not json" else 200), name
    assert client.post("/sms/callback", content=bodies["strings"]).json() == ACK  # Tencent's retry: a duplicate
    bodies["reply"] = body(
        {"mobile": TARGET, "nationcode": "86", "text": "TD", "sign": "delivrd", "time": 1764000000, "extend": ""}
    )
    bodies["other reply"] = body(
        {"mobile": OTHER, "nationcode": "86", "text": f"call {OTHER}", "sign": "d", "time": 1764000001}
    )
    for name in ("reply", "other reply"):
        assert client.post("/sms/reply", content=bodies[name]).json() == ACK
    return bodies


def masked(original: bytes) -> bytes:
    """The body as the erasure must leave it, worked out here by hand from how each body holds the number."""
    return (
        original.replace(f'"{TARGET}"'.encode(), b'"' + STARS + b'"')
        .replace(f'"+86{TARGET}"'.encode(), b'"+**' + STARS + b'"')
        .replace(f":{TARGET},".encode(), b':"' + STARS + b'",')
        .replace(f"={TARGET}&".encode(), b'="' + STARS + b'"&')
    )


def dump(app: InProcessApp) -> str:
    """Every row of every table, as text (bytes in hex on PostgreSQL, as repr on SQLite)."""
    if app.database_url is None:
        conn = apsw.Connection(str(app.db), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return "\n".join(repr(row) for t in tables for row in conn.execute(f"SELECT * FROM {t}"))
        finally:
            conn.close()
    schema = app.database_url.partition("search_path=")[2].partition("&")[0]
    tables = postgres(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relkind = 'r'",
        schema,
    )
    rows = [postgres(f"SELECT t::text FROM {schema}.{name} t") for (name,) in tables]
    return "\n".join(r[0] for found in rows for r in found)


def database_bytes(app: InProcessApp) -> bytes:
    """SQLite: the database file and its -wal, as on disk."""
    files = [app.db, Path(f"{app.db}-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def inbox(client) -> dict[int, bytes]:
    items = client.get("/v1/inbox", params={"limit": 1000}).json()["items"]
    return {e["id"]: e["body"].encode() for e in items}


def test_a_purge_leaves_no_trace_of_the_number_and_every_count_as_it_was(app, client):
    bodies = feed(client)
    stats = {by: client.get("/v1/stats", params={"by": by} if by else {}).json() for by in (None, "nationcode")}
    before = inbox(client)
    assert TARGET in dump(app)

    answer = client.delete(f"/v1/phones/+86{TARGET}")
    assert answer.status_code == 200, answer.text
    erased = answer.json()
    keys = {} if app.database_url is None else {"report_keys": 3}  # PostgreSQL's duplicate check
    assert erased["phone"] == f"+86{TARGET}"
    assert erased["removed"] == {"reports": 3, **keys, "replies": 1, "sends": 2, "events": 0}  # no endpoint waits
    # messages: t1 (send and receipt), t2, t3 (receipts only), the refused send; rejects: the quarantined item
    # and the body that is not JSON; inbox: every body but the other number's reply
    assert erased["masked"] == {"messages": 4, "rejects": 2, "inbox": 6, "optouts": 0, "optout_changes": 0}

    text = dump(app)
    assert TARGET not in text and TARGET_HEX not in text
    assert OTHER in text and NEAR in text
    if app.database_url is None:
        assert TARGET.encode() not in database_bytes(app)
    after = inbox(client)
    assert set(after) == set(before)
    for inbox_id, original in before.items():
        assert after[inbox_id] == masked(original), original
        if original != bodies["not json"]:
            json.loads(after[inbox_id])  # still JSON
    assert sorted(before.values()) == sorted([*bodies.values(), bodies["strings"]])  # the retry: twice
    for by, answer in stats.items():
        assert client.get("/v1/stats", params={"by": by} if by else {}).json() == answer
    # the number is gone from every read; the others are where they were
    assert client.get(f"/v1/phones/+86{TARGET}").json()["messages"] == []
    assert [m["sid"] for m in client.get(f"/v1/phones/+86{OTHER}").json()["messages"]] == [
        "2019:o3",
        "2019:o2",
        "2019:o1",
    ]
    assert client.get("/v1/reports", params={"mobile": TARGET}).json()["items"] == []
    assert client.get("/v1/replies", params={"mobile": TARGET}).json()["items"] == []
    # a purge of a number that is no longer kept finds nothing
    again = client.delete(f"/v1/phones/{TARGET}").json()
    assert not any(again["removed"].values()) and not any(again["masked"].values())


def test_the_purge_answers_bad_numbers_and_needs_the_api_key(start_app):
    client = start_app(api_key="full", viewer_key="view").client
    full = {"Authorization": "Bearer full"}
    answer = client.delete("/v1/phones/abc", headers=full)
    assert answer.status_code == 400 and answer.json()["result"] == 1007
    assert client.delete(f"/v1/phones/+86{TARGET}").status_code == 401
    refused = client.delete(f"/v1/phones/+86{TARGET}", headers={"Authorization": "Bearer view"})
    assert refused.status_code == 403 and refused.json()["result"] == 1014
    assert client.delete(f"/v1/phones/+86{TARGET}", headers=full).status_code == 200


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        (b'{"mobile":"13800138000"}', b'{"mobile":"***********"}'),
        (b'{"mobile": 13800138000 }', b'{"mobile": "***********" }'),
        (b'["+8613800138000", "8613800138000"]', b'["+*************", "*************"]'),
        (b'{"mobile":"138001380001","x":"013800138000"}', b'{"mobile":"138001380001","x":"013800138000"}'),
        (b'{"t":"call 13800138000 or \\"13800138000\\""}', b'{"t":"call *********** or \\"***********\\""}'),
        (b'{"mobile":"13800138000","cut', b'{"mobile":"***********","cut'),
        (b'{"n":13800138000.5,"m":-13800138000}', b'{"n":13800138000.5,"m":-13800138000}'),
    ],
)
def test_the_mask_replaces_whole_runs_of_the_digits_and_nothing_else(original, expected):
    assert Masker("86", TARGET).mask_bytes(original) == expected


def test_purge_command_while_delivrd_serves(app):
    feed(app.client)
    args = app.database_args()
    run = subprocess.run(
        [sys.executable, "-m", "delivrd", "purge", "--phone", TARGET, *args], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert f"+86{TARGET}" in run.stdout and "3 reports" in run.stdout and "6 inbox bodies" in run.stdout
    assert TARGET not in dump(app)
    bad = subprocess.run(
        [sys.executable, "-m", "delivrd", "purge", "--phone", "abc", *args], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "got 'abc'" in bad.stderr
