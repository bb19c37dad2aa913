"""`delivrd stats`, `export`, `import sends`, `reconcile` (the CLI end to end, as processes) beside delivrd in
process on the same database, and the SendSms helper against a `delivrd serve` (it needs a URL)."""

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC

import httpx
import pytest

from delivrd.providers.tencent import sdk as tencent_sdk
from tests.factories import body
from tests.fake_tencent import SECRET_ID, SECRET_KEY, FakeTencent
from tests.insight_mix import generate
from tests.servers import free_port

ACK = {"result": 0, "errmsg": "OK"}
TENCENT_ENV = {"TENCENTCLOUD_SECRET_ID": SECRET_ID, "TENCENTCLOUD_SECRET_KEY": SECRET_KEY}


def delivrd(*args, env=None, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "delivrd", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


@pytest.fixture
def fake():
    server = FakeTencent().start(free_port())
    yield server
    server.stop()


def test_stats_on_the_terminal_are_the_apis_numbers(app, client):
    from datetime import datetime

    messages = generate(seed=7, sends=60, orphans=5)
    for m in messages:
        if m.sent_at is not None:
            status = {
                "SerialNo": m.sid or "",
                "PhoneNumber": f"+{m.nationcode}{m.mobile}",
                "Code": "LimitExceeded.PhoneNumberDailyLimit" if m.refused else "Ok",
            }
            sent = datetime.fromtimestamp(m.sent_at, UTC).isoformat()
            call = {"TemplateId": m.template, "SignName": m.sign, "SentAt": sent, "SendStatusSet": [status]}
            assert client.post("/v1/messages", json=call).status_code == 200
    assert client.post("/sms/callback", content=body([r for m in messages for r in m.receipts])).json() == ACK
    for by in (None, "category"):
        args = ["stats", "--json", *app.database_args(), *(["--by", by] if by else [])]
        terminal = delivrd(*args)
        assert terminal.returncode == 0, terminal.stderr
        assert json.loads(terminal.stdout) == client.get("/v1/stats", params={"by": by} if by else {}).json()
    table = delivrd("stats", "--by", "nationcode", *app.database_args())
    api = client.get("/v1/stats", params={"by": "nationcode"}).json()
    assert "nationcode" in table.stdout and "success" in table.stdout
    all_row = next(line for line in table.stdout.splitlines() if " all " in line)
    assert all_row.replace("│", " ").split()[1:6] == [
        str(api[k]) for k in ("total", "delivered", "failed", "pending", "no_receipt")
    ]


def test_stats_on_a_missing_database_is_one_clear_line(tmp_path):
    result = delivrd("stats", "--db", str(tmp_path / "nothing.db"))
    assert result.returncode == 2 and result.stderr.startswith("delivrd: no database at")


def test_export_reports_and_messages(app, client, tmp_path):
    messages = generate(seed=8, sends=0, orphans=12)
    assert client.post("/sms/callback", content=body([r for m in messages for r in m.receipts] * 2)).json() == ACK
    out = tmp_path / "reports.csv"
    result = delivrd("export", "reports", *app.database_args(), "-o", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert sorted(r["sid"] for r in rows) == sorted(m.sid for m in messages)
    assert {r["duplicates"] for r in rows} == {"1"}
    assert result.stderr == f"exported {len(messages)} reports\n"
    lines = delivrd("export", "messages", "--format", "jsonl", *app.database_args()).stdout.splitlines()
    exported = {row["sid"]: row for row in map(json.loads, lines)}
    assert {sid: row["state"] for sid, row in exported.items()} == {m.sid: m.state for m in messages}
    assert all(row["category"] in ("delivered", "invalid_number") for row in exported.values())
    later = delivrd("export", "reports", "--since", "2999-01-01", *app.database_args())
    assert later.stdout.strip() == ",".join(
        [
            "id",
            "sid",
            "nationcode",
            "mobile",
            "phone",
            "report_status",
            "errmsg",
            "description",
            "user_receive_time",
            "user_receive_at",
            "ext",
            "extra",
            "received_at",
            "duplicates",
        ]
    )


def test_import_sends_from_csv_and_json_lines(app, client, tmp_path):
    sheet = tmp_path / "sends.csv"
    sheet.write_text(
        "SerialNo,PhoneNumber,Fee,Code,TemplateId,SignName,SentAt\n"
        "5000:1,+8613800000001,1,Ok,T9,Acme,2026-01-24T08:00:00+08:00\n"
        ",+8613800000002,0,LimitExceeded.PhoneNumberDailyLimit,T9,Acme,2026-01-24T08:00:00+08:00\n"
    )
    lines = tmp_path / "sends.jsonl"
    lines.write_text(
        json.dumps(
            {
                "TemplateId": "T8",
                "RequestId": "r",
                "SendStatusSet": [{"SerialNo": "5000:3", "PhoneNumber": "+6281200000003", "Code": "Ok"}],
            }
        )
        + "\n\n"
    )
    for path in (sheet, lines):
        result = delivrd("import", "sends", str(path), *app.database_args())
        assert result.returncode == 0, result.stderr
    assert delivrd("import", "sends", str(sheet), *app.database_args()).stdout.strip() == (
        "registered 0 new sends, 2 already known"
    )
    one = client.get("/v1/messages/5000:1").json()
    assert (one["state"], one["send"]["template_id"], one["send"]["sent_at"]) == (
        "no_receipt",
        "T9",
        "2026-01-24T00:00:00.000000Z",
    )
    assert client.get("/v1/messages/5000:3").json()["send"]["nationcode"] == "62"
    refused = client.get("/v1/phones/+8613800000002").json()["messages"]
    assert [(m["state"], m["code"]) for m in refused] == [("failed", "LimitExceeded.PhoneNumberDailyLimit")]

    bad = tmp_path / "bad.csv"
    bad.write_text("SerialNo,PhoneNumber\n5000:4,+8613800000004\n5000:5,13800000005\n")
    result = delivrd("import", "sends", str(bad), *app.database_args())
    assert result.returncode == 2
    assert "nothing imported, 1 bad line:" in result.stderr and "bad.csv:3: PhoneNumber must be E.164" in result.stderr
    assert client.get("/v1/messages/5000:4").status_code == 404  # the good line was not stored either


def test_send_and_record_with_the_sdk(server, fake, monkeypatch):
    from tencentcloud.sms.v20210111 import models

    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    fake.refuse.add("+8613800000009")
    request = models.SendSmsRequest()
    request.PhoneNumberSet = ["+8613800000008", "+8613800000009"]
    request.SmsSdkAppId, request.TemplateId, request.SignName = "1400000000", "T7", "Acme"
    response = tencent_sdk.send_and_record(tencent_sdk.client(fake.url), request, server.url)
    sid = response.SendStatusSet[0].SerialNo
    with httpx.Client(base_url=server.url, timeout=10) as client:
        view = client.get(f"/v1/messages/{sid}").json()
        refused = client.get("/v1/phones/+8613800000009").json()["messages"]
    assert (view["state"], view["send"]["template_id"], view["send"]["sign_name"]) == ("pending", "T7", "Acme")
    assert [(m["state"], m["code"]) for m in refused] == [("failed", "InvalidParameterValue.IncorrectPhoneNumber")]
    assert fake.calls[0][0] == "SendSms"


def test_wrong_credentials_are_refused_by_the_fake(fake, monkeypatch):
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
    from tencentcloud.sms.v20210111 import models

    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "not-the-key")
    request = models.SendSmsRequest()
    request.PhoneNumberSet = ["+8613800000008"]
    with pytest.raises(TencentCloudSDKException, match="SignatureFailure"):
        tencent_sdk.client(fake.url).SendSms(request)


def test_reconcile_fills_the_holes_and_counts_pushed_ones_once(app, client, fake):
    pulled = [
        {
            "UserReceiveTime": 1790000020,
            "CountryCode": "86",
            "SubscriberNumber": f"1380000{n:04d}",
            "PhoneNumber": f"+861380000{n:04d}",
            "SerialNo": f"5000:{n}",
            "ReportStatus": "SUCCESS" if n % 3 else "FAIL",
            "Description": "DELIVRD" if n % 3 else "MK:0001",
            "SessionContext": "",
        }
        for n in range(250)
    ]
    # the callback did arrive for the first ten: same receipt, pushed
    pushed = [tencent_sdk.as_callback(item) for item in pulled[:10]]
    assert pushed[1]["user_receive_time"] == "2026-09-21 22:13:40"
    assert client.post("/sms/callback", content=body(pushed)).json() == ACK
    fake.receipts = list(pulled)
    result = delivrd(
        "reconcile", "--sdk-app-id", "1400000000", "--endpoint", fake.url, *app.database_args(), env=TENCENT_ENV
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("pulled 250 receipts")
    assert [action for action, _ in fake.calls] == ["PullSmsSendStatus"] * 4  # 100 + 100 + 50, then none left
    reports = []
    cursor = None
    while True:
        page = client.get("/v1/reports", params={"limit": 1000, **({"cursor": cursor} if cursor else {})}).json()
        reports += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(r["sid"] for r in reports) == sorted(item["SerialNo"] for item in pulled)
    assert sum(r["duplicates"] for r in reports) == 10
    assert client.get("/v1/messages/5000:3").json()["code"] == "MK:0001"
    again = delivrd(
        "reconcile", "--sdk-app-id", "1400000000", "--endpoint", fake.url, *app.database_args(), env=TENCENT_ENV
    )
    assert again.stdout.startswith("pulled 0 receipts")


def test_export_counts_in_the_singular_too(app, client):
    assert (
        client.post("/sms/callback", content=body(generate(seed=9, sends=0, orphans=1)[0].receipts[:1])).json() == ACK
    )
    result = delivrd("export", "reports", *app.database_args())
    assert result.returncode == 0 and result.stderr == "exported 1 report\n"
    result = delivrd("export", "messages", *app.database_args())
    assert result.returncode == 0 and result.stderr == "exported 1 message\n"


@pytest.mark.parametrize(
    ("endpoint", "says"),
    [
        ("http://127.0.0.1:{closed}", "no connection: connection refused"),
        ("http://no-such-host.invalid", "its host name does not resolve (no DNS, or a wrong --endpoint)"),
    ],
)
def test_reconcile_without_a_network_says_tencent_was_not_reached(endpoint, says, tmp_path):
    db = tmp_path / "d.db"
    endpoint = endpoint.format(closed=free_port())
    result = delivrd("reconcile", "--sdk-app-id", "1", "--endpoint", endpoint, "--db", str(db), env=TENCENT_ENV)
    assert result.returncode == 2
    assert result.stderr == f"delivrd: could not reach Tencent at {endpoint}: {says}\n"
    assert not db.exists()  # nothing was pulled, so nothing was created


def test_reconcile_says_when_tencent_does_not_answer_in_time(monkeypatch):
    import socket
    import threading

    monkeypatch.setattr(tencent_sdk, "REQUEST_TIMEOUT", 0.3)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        held = []
        accepting = threading.Thread(target=lambda: held.append(silent.accept()), daemon=True)
        accepting.start()
        sms = tencent_sdk.client(f"http://127.0.0.1:{silent.getsockname()[1]}")
        with pytest.raises(tencent_sdk.Unreachable, match=r"no answer within 0\.3 s"):
            next(tencent_sdk.pull_receipts(sms, "1400000000"))


def test_a_refusal_by_tencent_is_still_called_one(fake, tmp_path):
    env = {**TENCENT_ENV, "TENCENTCLOUD_SECRET_KEY": "not-the-key"}
    args = ("reconcile", "--sdk-app-id", "1", "--endpoint", fake.url, "--db", str(tmp_path / "d.db"))
    result = delivrd(*args, env=env)
    assert result.returncode == 2 and result.stderr.startswith(
        "delivrd: Tencent refused PullSmsSendStatus: AuthFailure"
    )


def test_reconcile_without_credentials_says_so(tmp_path):
    env = dict.fromkeys(TENCENT_ENV, "")
    result = delivrd("reconcile", "--sdk-app-id", "1", "--db", str(tmp_path / "d.db"), env=env)
    assert result.returncode == 2 and "TENCENTCLOUD_SECRET_ID" in result.stderr


def test_each_command_explains_itself():
    assert all(name in delivrd("--help").stdout for name in ("stats", "export", "import", "reconcile"))
    for args, words in [
        (("stats", "--help"), ("--by", "--since", "--json", "--no-receipt-after", "DELIVRD_DB")),
        (("export", "--help"), ("reports", "messages", "--format", "jsonl")),
        (("import", "--help"), ("PhoneNumber", "SerialNo", "JSON lines")),
        (("reconcile", "--help"), ("PullSmsSendStatus", "TENCENTCLOUD_SECRET_ID", "--sdk-app-id", "--endpoint")),
    ]:
        text = delivrd(*args).stdout
        assert all(word in text for word in words), (args, text)
