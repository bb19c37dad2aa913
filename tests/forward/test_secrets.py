"""Endpoint secrets: generated ones work with the Standard Webhooks library, given ones are checked."""

from __future__ import annotations

import base64
import re

import pytest
from standardwebhooks.webhooks import Webhook

from delivrd.forward.secrets import check_secret, generate_secret


def test_a_generated_secret_is_whsec_and_32_random_bytes():
    secrets = {generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
        assert check_secret(secret) == secret
        Webhook(secret)  # the consumer's library reads it


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_" + base64.b64encode(bytes(range(24))).decode(),
        "whsec_" + base64.b64encode(bytes(range(64))).decode(),
        "whsec_" + base64.b64encode(bytes(range(25))).decode().rstrip("="),  # padding left out
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # the Standard Webhooks specification's example
    ],
)
def test_a_given_secret_is_kept_as_given(secret):
    assert check_secret(secret) == secret


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("", "must start with 'whsec_'"),
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
        ("whsec_", "this one is 0"),
        ("whsec_c2hvcnQ=", "must be 24 to 64 bytes once base64-decoded, this one is 5"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "this one is 65"),
        ("whsec_not base64 at all!!", "standard base64"),
        ("whsec_" + base64.urlsafe_b64encode(b"\xff" * 30).decode(), "standard base64"),
    ],
)
def test_a_bad_secret_is_refused_saying_why(secret, why):
    with pytest.raises(ValueError, match=re.escape(why)):
        check_secret(secret)
