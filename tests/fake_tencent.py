"""A local fake of Tencent Cloud's SMS API endpoint (API 2021-01-11), for tests: no real credentials.

It speaks the TC3 JSON protocol the SDK uses: POST / with `X-TC-Action`, a
`TC3-HMAC-SHA256` Authorization header (checked against the fake's own secret, so a
wrong key fails like it would at Tencent) and `{"Response": {...}}` answers. It
implements SendSms (numbers in `refuse` are refused as Tencent does, with no
SerialNo) and PullSmsSendStatus (hands out queued receipts once each, at most
`Limit` per call).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import uvicorn

SECRET_ID = "AKIDfakeDelivrdTests"
SECRET_KEY = "fake-secret-key-for-tests"


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


@dataclass
class FakeTencent:
    """The fake's state; `app` is the ASGI application, `start()` serves it on a free port in a thread."""

    refuse: set[str] = field(default_factory=set)
    receipts: list[dict[str, Any]] = field(default_factory=list)  # PullSmsSendStatusSet items waiting
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    serials: Any = field(default_factory=lambda: itertools.count(1045710669157053657849499619))
    url: str = ""

    def signature_ok(self, headers: dict[str, str], body: bytes) -> bool:
        auth = headers.get("authorization", "")
        try:
            algorithm, rest = auth.split(" ", 1)
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
            secret_id, date, service, _ = parts["Credential"].split("/")
        except ValueError:
            return False
        canonical = "\n".join(
            [
                "POST",
                "/",
                "",
                f"content-type:{headers.get('content-type')}\nhost:{headers.get('host')}\n",
                parts.get("SignedHeaders", ""),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        to_sign = "\n".join(
            [
                algorithm,
                headers.get("x-tc-timestamp", ""),
                f"{date}/{service}/tc3_request",
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        key = _sign(_sign(_sign(f"TC3{SECRET_KEY}".encode(), date), service), "tc3_request")
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return secret_id == SECRET_ID and hmac.compare_digest(expected, parts.get("Signature", ""))

    def answer(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((action, params))
        if action == "SendSms":
            out = []
            for number in params["PhoneNumberSet"]:
                phone = number if number.startswith("+") else f"+86{number}"
                if phone in self.refuse:
                    out.append(
                        {
                            "SerialNo": "",
                            "PhoneNumber": phone,
                            "Fee": 0,
                            "SessionContext": "",
                            "Code": "InvalidParameterValue.IncorrectPhoneNumber",
                            "Message": "incorrect phone number",
                            "IsoCode": "CN",
                        }
                    )
                else:
                    out.append(
                        {
                            "SerialNo": f"5000:{next(self.serials)}",
                            "PhoneNumber": phone,
                            "Fee": 1,
                            "SessionContext": params.get("SessionContext", ""),
                            "Code": "Ok",
                            "Message": "send success",
                            "IsoCode": "CN",
                        }
                    )
            return {"SendStatusSet": out}
        if action == "PullSmsSendStatus":
            limit = int(params["Limit"])
            taken, self.receipts = self.receipts[:limit], self.receipts[limit:]
            return {"PullSmsSendStatusSet": taken}
        return {"Error": {"Code": "InvalidAction", "Message": f"the fake does not do {action}"}}

    async def app(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if not self.signature_ok(headers, body):
            response: dict[str, Any] = {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad signature"}}
        else:
            response = self.answer(headers.get("x-tc-action", ""), json.loads(body))
        response["RequestId"] = str(uuid.uuid4())
        data = json.dumps({"Response": response}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})

    def start(self, port: int) -> FakeTencent:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", interface="asgi3"
        )
        self._server = uvicorn.Server(config)
        threading.Thread(target=self._server.run, daemon=True).start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake Tencent endpoint did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self._server.should_exit = True
