"""The send helper (`providers.tencent.sdk.send_and_record`) refuses marketing to numbers on the opt-out list."""

from __future__ import annotations

import httpx
import pytest

from delivrd.providers.tencent import sdk as tencent_sdk
from tests.fake_tencent import SECRET_ID, SECRET_KEY, FakeTencent
from tests.servers import IN_PROCESS_URL, free_port


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    server = FakeTencent().start(free_port())
    yield server
    server.stop()


def request(*numbers: str):
    from tencentcloud.sms.v20210111 import models

    sms = models.SendSmsRequest()
    sms.PhoneNumberSet = list(numbers)
    sms.SmsSdkAppId, sms.TemplateId, sms.SignName = "1400000000", "T7", "Acme"
    return sms


def test_marketing_to_an_opted_out_number_is_refused_and_nothing_is_sent(start_app, fake):
    app = start_app(api_key="k")
    keyed = {"authorization": "Bearer k"}
    assert app.client.post("/v1/optouts", json={"phone": "+8613800000009"}, headers=keyed).status_code == 201
    sms = tencent_sdk.client(fake.url)
    with pytest.raises(tencent_sdk.OptedOut, match=r"\+8613800000009 is on delivrd's opt-out list") as refused:
        tencent_sdk.send_and_record(
            sms, request("+8613800000008", "+8613800000009"), IN_PROCESS_URL, api_key="k", http=app.client
        )
    assert refused.value.phones == ["+8613800000009"]
    assert fake.calls == []  # Tencent was never asked

    # not marketing (a verification code): sent, and recorded
    response = tencent_sdk.send_and_record(
        sms, request("+8613800000009"), IN_PROCESS_URL, marketing=False, api_key="k", http=app.client
    )
    sid = response.SendStatusSet[0].SerialNo
    assert app.client.get(f"/v1/messages/{sid}", headers=keyed).json()["send"]["phone"] == "+8613800000009"
    # marketing to numbers not on the list goes out as before
    tencent_sdk.send_and_record(sms, request("+8613800000008"), IN_PROCESS_URL, api_key="k", http=app.client)
    assert [name for name, *_ in fake.calls] == ["SendSms", "SendSms"]


def test_when_delivrd_cannot_answer_marketing_is_not_sent(fake):
    with httpx.Client(timeout=2) as http, pytest.raises(tencent_sdk.OptOutUnknown, match="marketing=False"):
        tencent_sdk.send_and_record(
            tencent_sdk.client(fake.url), request("+8613800000008"), f"http://127.0.0.1:{free_port()}", http=http
        )
    assert fake.calls == []
