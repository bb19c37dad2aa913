"""delivrd beside Tencent's Python SDK (tencentcloud-sdk-python-sms): record sends, pull missed receipts.

`send_and_record` wraps `SmsClient.SendSms` so every send is registered in delivrd
(POST /v1/messages) the moment Tencent answers, and so a marketing message is never sent to
a number on delivrd's opt-out list (GET /v1/optouts). `pull_receipts` reads
PullSmsSendStatus until Tencent has nothing left and turns each item into the
callback's shape, so `delivrd reconcile` stores it through the same decoder and the
same idempotent write as a pushed receipt: a receipt both pulled and pushed is
stored once. Credentials come from TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client
from urllib3 import exceptions as http_errors

from delivrd.domain.clock import UTC8
from delivrd.providers.tencent.constants import DEFAULT_ENDPOINT, DEFAULT_REGION

log = logging.getLogger("delivrd.providers.tencent.sdk")

#: PullSmsSendStatus hands out at most this many per call
PULL_LIMIT = 100
#: seconds the SDK waits for Tencent's answer to one call
REQUEST_TIMEOUT = 30


class CredentialsMissing(Exception):
    """TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY are not set."""


class Unreachable(Exception):
    """Tencent was never reached (the name did not resolve, the connection was refused, no answer in time):
    nothing was refused. The SDK reports all of it as a ClientNetworkError with its HTTP library's message."""


def unreachable_reason(exc: TencentCloudSDKException) -> str | None:
    """Why the call never reached Tencent, in a few words; None when Tencent answered (and refused)."""
    if exc.code != "ClientNetworkError":
        return None
    cause = exc.__context__  # the SDK raises its exception while handling its HTTP library's
    failure = cause.args[0] if cause is not None and cause.args else cause
    if isinstance(failure, http_errors.MaxRetryError):
        failure = failure.reason
    if isinstance(failure, http_errors.NameResolutionError):
        return "its host name does not resolve (no DNS, or a wrong --endpoint)"
    if isinstance(failure, http_errors.NewConnectionError):  # before timeouts: urllib3 makes it one of them
        cause = failure.__cause__
        return f"no connection: {cause.strerror.lower() if isinstance(cause, OSError) and cause.strerror else failure}"
    if isinstance(failure, http_errors.ConnectTimeoutError | http_errors.ReadTimeoutError):
        return f"no answer within {REQUEST_TIMEOUT} s"
    if isinstance(failure, http_errors.SSLError):
        return f"the TLS handshake failed: {failure}"
    return f"network error: {exc.message}"


def client(endpoint: str = DEFAULT_ENDPOINT, region: str = DEFAULT_REGION) -> sms_client.SmsClient:
    """An SmsClient with credentials from the environment, talking to `endpoint` (scheme://host[:port])."""
    secret_id, secret_key = os.environ.get("TENCENTCLOUD_SECRET_ID"), os.environ.get("TENCENTCLOUD_SECRET_KEY")
    if not secret_id or not secret_key:
        raise CredentialsMissing(
            "set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (a CAM key allowed to use SMS)"
        )
    url = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    profile = ClientProfile(
        httpProfile=HttpProfile(protocol=url.scheme, endpoint=url.netloc, reqTimeout=REQUEST_TIMEOUT)
    )
    return sms_client.SmsClient(credential.Credential(secret_id, secret_key), region, profile)


class OptedOut(Exception):
    """A marketing message was asked for numbers on the opt-out list: nothing was sent."""

    def __init__(self, phones: list[str]) -> None:
        super().__init__(
            f"not sent: {', '.join(phones)} {'is' if len(phones) == 1 else 'are'} on delivrd's opt-out list"
            " (replied an unsubscribe keyword, or put on it by hand); remove them from PhoneNumberSet, or pass"
            " marketing=False if this message is not marketing (a verification code, a notice)"
        )
        self.phones = phones


class OptOutUnknown(Exception):
    """delivrd could not say whether the numbers are on the opt-out list: nothing was sent."""


def send_and_record(
    sms: sms_client.SmsClient,
    request: models.SendSmsRequest,
    delivrd_url: str,
    *,
    marketing: bool = True,
    api_key: str | None = None,
    http: httpx.Client | None = None,
) -> models.SendSmsResponse:
    """SendSms, then register the result in delivrd; returns Tencent's response as SendSms does.

    A marketing message (the default: say `marketing=False` for a verification code or a notice) is first
    checked against delivrd's opt-out list: OptedOut names the numbers on it, OptOutUnknown says delivrd
    could not answer, and in both cases nothing is sent. The SMS has gone out once Tencent answered, so a
    failure to record it does not raise: it is logged with the JSON to feed `delivrd import sends` later.
    """
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    base = delivrd_url.rstrip("/")
    with httpx.Client(timeout=10) if http is None else contextlib.nullcontext(http) as client:
        if marketing:
            refused = _opted_out(client, base, headers, request.PhoneNumberSet or [])
            if refused:
                raise OptedOut(refused)
        sent_at = datetime.now(UTC).isoformat()
        response = sms.SendSms(request)
        call = json.loads(response.to_json_string())
        call.update(TemplateId=request.TemplateId, SignName=request.SignName, SentAt=sent_at)
        try:
            client.post(f"{base}/v1/messages", json=call, headers=headers).raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("sent, but not recorded in delivrd (%s); import this line later: %s", exc, json.dumps(call))
    return response


def _opted_out(client: httpx.Client, base: str, headers: dict[str, str], numbers: list[str]) -> list[str]:
    """Which of `numbers` delivrd has on its opt-out list (as written in PhoneNumberSet)."""
    found = []
    for number in numbers:
        try:
            answer = client.get(f"{base}/v1/optouts", params={"phone": number, "limit": 1}, headers=headers)
            if answer.status_code == 400:  # not a number delivrd reads (nor lists): Tencent will refuse it
                continue
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            raise OptOutUnknown(
                f"not sent: delivrd could not say whether {number} is on the opt-out list ({exc}); pass"
                " marketing=False if this message is not marketing"
            ) from None
        if answer.json()["items"]:
            found.append(number)
    return found


def as_callback(item: dict[str, Any]) -> dict[str, Any]:
    """One PullSmsSendStatusSet item → the status callback's fields, as Tencent would have pushed it."""
    when = item.get("UserReceiveTime")
    report = {
        "user_receive_time": None
        if when is None
        else datetime.fromtimestamp(int(when), UTC8).strftime("%Y-%m-%d %H:%M:%S"),
        "nationcode": item.get("CountryCode"),
        "mobile": item.get("SubscriberNumber"),
        "report_status": item.get("ReportStatus"),
        "errmsg": item.get("Description"),  # PullSmsSendStatus puts the receipt code here
        "sid": item.get("SerialNo"),
    }
    if item.get("SessionContext"):
        report["ext"] = item["SessionContext"]
    return report


def pull_receipts(
    sms: sms_client.SmsClient, sdk_app_id: str, *, max_calls: int = 1000
) -> Iterator[list[dict[str, Any]]]:
    """Batches of missed receipts in the callback's shape, until Tencent has none left (or `max_calls`).

    Unreachable when Tencent could not be reached; TencentCloudSDKException when it answered with a refusal."""
    for _ in range(max_calls):
        request = models.PullSmsSendStatusRequest()
        request.Limit = PULL_LIMIT
        request.SmsSdkAppId = sdk_app_id
        try:
            answer = sms.PullSmsSendStatus(request)
        except TencentCloudSDKException as exc:
            reason = unreachable_reason(exc)
            if reason is None:
                raise
            raise Unreachable(reason) from None
        items = json.loads(answer.to_json_string()).get("PullSmsSendStatusSet") or []
        if not items:
            return
        yield [as_callback(item) for item in items]
