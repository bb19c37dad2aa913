"""`GET /v1/messages/{sid}?wait=SECONDS`: the long poll a login flow makes ("was the code delivered?"), in
process on both backends."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.factories import report

ACK = {"result": 0, "errmsg": "OK"}
SID = report(1)["sid"]
SEND = {
    "TemplateId": "1001",
    "SignName": "s",
    "SentAt": "2026-12-07T09:00:00+00:00",
    "SendStatusSet": [{"SerialNo": SID, "PhoneNumber": "+86" + report(1)["mobile"], "Fee": 1, "Code": "Ok"}],
}


def test_a_waiting_request_answers_when_the_receipt_arrives(app):
    assert app.client.post("/v1/messages", json=SEND).status_code == 200

    async def scenario():
        async with app.async_client() as client:
            waiting = asyncio.ensure_future(client.get(f"/v1/messages/{SID}", params={"wait": "60"}))
            await asyncio.sleep(0.5)  # let it start waiting (the checks below hold whenever it started)
            still_waiting = not waiting.done()
            answer = await client.post("/sms/callback", content=json.dumps([report(1)]))
            assert answer.json() == ACK
            # it answers long before its 60 s are up: the guard only keeps a broken wait from hanging the test
            return still_waiting, await asyncio.wait_for(waiting, 30)

    still_waiting, answer = app.run(scenario)
    assert still_waiting  # no receipt yet: it did not answer at once
    assert answer.status_code == 200
    message = answer.json()
    assert message["state"] == "delivered" and [r["sid"] for r in message["reports"]] == [SID]


def test_a_message_with_its_receipt_answers_at_once_and_one_without_after_the_wait(app):
    assert app.client.post("/v1/messages", json=SEND).status_code == 200
    pending = app.client.get(f"/v1/messages/{SID}", params={"wait": "1"})
    assert pending.status_code == 200 and pending.json()["state"] == "pending" and pending.json()["reports"] == []
    assert app.client.post("/sms/callback", content=json.dumps([report(1)])).json() == ACK
    done = app.client.get(f"/v1/messages/{SID}", params={"wait": "60"})  # at once: the test would hang otherwise
    assert done.status_code == 200 and done.json()["state"] == "delivered"


def test_an_unknown_sid_is_404_after_the_wait(app):
    answer = app.client.get("/v1/messages/2019:nothing", params={"wait": "1"})
    assert answer.status_code == 404 and answer.json()["result"] == 1006


@pytest.mark.parametrize("wait", ["61", "-1", "1.5", "", "01", "x", "100000000000000000000"])
def test_a_bad_wait_is_a_json_400(http_client, wait):
    answer = http_client.get("/v1/messages/2019:x", params={"wait": wait})
    assert answer.status_code == 400 and answer.json()["result"] == 1007 and "wait" in answer.json()["errmsg"]
