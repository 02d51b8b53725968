"""Verifying a provider's webhook signature: pure functions, no I/O. Nothing else is trusted first.

- OpenAI (and relays that forward its events) sign with Standard Webhooks: headers `webhook-id`,
  `webhook-timestamp`, `webhook-signature: v1,<base64>` over `"{id}.{timestamp}.{raw body}"`, a
  `whsec_<base64 key>` secret, ±5 minutes. The `standardwebhooks` package does the crypto
  (`../shared/specs/WEBHOOKS.md` B.2–B.4); this module only maps its errors to one exception.
- OpenRouter signs its own way (`../shared/specs/OPENROUTER.md` A.5), which no well-kept library
  covers: `X-OpenRouter-Signature: t=<unix seconds>,v1=<lowercase hex>` where the hex is
  HMAC-SHA256(key = the signing secret's UTF-8 bytes, msg = `"{t},"` + the raw body bytes). The
  timestamp must be within 300 s of now either way; the comparison is constant-time.

Both raise `SignatureRefused` with a short reason that is safe to log (it never holds the body,
the secret or the signature).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from standardwebhooks import Webhook, WebhookVerificationError

TOLERANCE_SECONDS = 300  # both schemes: a delivery older or newer than this is refused
OPENROUTER_SIGNATURE = "X-OpenRouter-Signature"


class SignatureRefused(Exception):
    """The delivery is not provably from the provider (or is stale): refuse it, change nothing."""

    def __init__(self, reason: str, *, stale: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stale = stale


class StandardWebhooksVerifier:
    """OpenAI's scheme, through `standardwebhooks`. Construction fails (ValueError) for a secret that
    is not a `whsec_…` base64 key, so a misconfiguration shows at start-up, not per delivery."""

    def __init__(self, secret: str) -> None:
        if not secret.startswith("whsec_"):
            raise ValueError("a Standard Webhooks secret starts with whsec_ (copy it from the dashboard)")
        try:
            self._webhook = Webhook(secret)
        except Exception as exc:  # binascii.Error, EmptyWebhookSecretError
            raise ValueError("the whsec_ secret is not valid base64") from exc

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        """Check the signature and timestamp of `body`; return the `webhook-id` (the idempotency key)."""
        plain = {k.lower(): v for k, v in headers.items()}
        # Checked here, not left to the library: standardwebhooks 1.1 raised ValueError for an entry without
        # a comma and 1.3 skips it, so the refusal's reason would depend on the installed version.
        entries = plain.get("webhook-signature", "").split()
        if entries and not any("," in entry for entry in entries):
            raise SignatureRefused("malformed signature header or body")
        try:
            self._webhook.verify(body, plain, json_parse=False)
        except WebhookVerificationError as exc:
            reason = str(exc) or "invalid signature"
            raise SignatureRefused(reason, stale="timestamp too" in reason) from None
        except (ValueError, UnicodeDecodeError):  # an entry without a comma, bad base64, non-UTF-8 body
            raise SignatureRefused("malformed signature header or body") from None
        return plain["webhook-id"]


def openrouter_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The lowercase hex v1 signature OpenRouter sends for `body` at `timestamp` (as the header spells it)."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"," + body, hashlib.sha256).hexdigest()


def verify_openrouter(body: bytes, header: str | None, secret: str, *, now: float | None = None,
                      tolerance: float = TOLERANCE_SECONDS) -> None:
    """Check an `X-OpenRouter-Signature` header against the exact received bytes; raise SignatureRefused."""
    if not header:
        raise SignatureRefused(f"no {OPENROUTER_SIGNATURE} header")
    timestamp, candidates = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp = value.strip()
        elif name == "v1":
            candidates.append(value.strip())
    if timestamp is None or not timestamp.isascii() or not timestamp.isdigit() or not candidates:
        raise SignatureRefused("malformed signature header")
    now = time.time() if now is None else now
    age = now - int(timestamp)
    if age > tolerance:
        raise SignatureRefused("timestamp too old", stale=True)
    if age < -tolerance:
        raise SignatureRefused("timestamp too new", stale=True)
    expected = openrouter_signature(secret, timestamp, body).encode("ascii")
    # Every candidate is compared (no early exit on the first mismatch's position), in constant time.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    if not matched:
        raise SignatureRefused("no matching signature")
