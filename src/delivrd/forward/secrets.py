"""Endpoint secrets in the Standard Webhooks form: `whsec_` and the base64 of the HMAC key's bytes.

The consumer's verifying library (any Standard Webhooks one) decodes the same string, so a secret is checked
here as strictly as those libraries read it: standard base64, padding optional, a key long enough to be one.
"""

from __future__ import annotations

import base64
import binascii
import secrets

PREFIX = "whsec_"
#: the key length of a generated secret (HMAC-SHA256's block is 64 bytes; Svix generates 24)
GENERATED_BYTES = 32
#: the shortest and longest key a given secret may carry
MIN_BYTES = 24
MAX_BYTES = 64


def generate_secret() -> str:
    """A new random secret, `whsec_` and 32 random bytes in base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_BYTES)).decode("ascii")


def check_secret(secret: str) -> str:
    """`secret` when it is a usable `whsec_…` secret; ValueError saying what is wrong otherwise (a 400)."""
    if not isinstance(secret, str) or not secret.startswith(PREFIX):
        raise ValueError(f"secret must start with {PREFIX!r} followed by base64 (leave it out to have one generated)")
    encoded = secret[len(PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"secret: what follows {PREFIX!r} must be standard base64 (A-Z a-z 0-9 + /)") from None
    if not MIN_BYTES <= len(key) <= MAX_BYTES:
        raise ValueError(
            f"secret: the key must be {MIN_BYTES} to {MAX_BYTES} bytes once base64-decoded, this one is {len(key)}"
        )
    return secret
