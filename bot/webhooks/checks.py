"""`doctor`'s webhook checks (bot/doctor.py runs them): the secret, the receiver, the public URL.

- SORA_WEBHOOK_SECRET is set whenever WEBHOOK_PORT or WEBHOOK_PUBLIC_URL is (unsigned deliveries
  are never trusted, so without it the receiver stays off), and for OpenAI-style providers it is a
  `whsec_` secret;
- the receiver answers `GET /webhooks/healthz` on WEBHOOK_HOST:WEBHOOK_PORT. Not listening is a
  warning when the port is free (the bot is not running yet) and a failure when something else
  holds it;
- WEBHOOK_PUBLIC_URL leads to this receiver (a warning when it does not from here: a machine can
  fail to reach its own public address even when providers can).
"""

from __future__ import annotations

import asyncio
import socket

import httpx

from bot.checks import Check, Status, display_url
from bot.settings import NO_WEBHOOK_PROVIDERS, ProviderName, Settings

WEBHOOK_PROBE_SECONDS = 5.0
_WHSEC_PROVIDERS = (ProviderName.OPENAI, ProviderName.JUHEAPI)  # they sign with Standard Webhooks


async def _is_our_receiver(url: str) -> bool | None:
    """True: a sora-bot receiver answered at `url`; False: something else did; None: nothing did."""
    try:
        async with httpx.AsyncClient(timeout=WEBHOOK_PROBE_SECONDS, follow_redirects=False) as http:
            answer = await http.get(url)
    except httpx.HTTPError:
        return None
    try:
        return answer.status_code == 200 and answer.json().get("service") == "sora-bot webhooks"
    except ValueError:
        return False


def _port_is_free(host: str, port: int) -> bool:
    try:
        with socket.create_server((host, port)):
            return True
    except OSError:
        return False


async def check_webhook_receiver(settings: Settings) -> Check:
    name = "Webhook receiver"
    port, url, secret = settings.webhook_port, settings.webhook_public_url, settings.webhook_secret
    if port is None and url is None:
        return Check(name, Status.OK, "off (WEBHOOK_PORT is unset): jobs are polled")
    if settings.sora_provider.value in NO_WEBHOOK_PROVIDERS:
        return Check(name, Status.WARN, f"SORA_PROVIDER={settings.sora_provider.value} sends no webhooks: the "
                     "receiver stays off and jobs are polled")
    if secret is None:
        which = "WEBHOOK_PUBLIC_URL" if url is not None else "WEBHOOK_PORT"
        return Check(name, Status.FAIL, f"{which} is set but SORA_WEBHOOK_SECRET is not: the receiver stays off",
                     "set SORA_WEBHOOK_SECRET to the signing secret from the provider's dashboard (see README, "
                     "Webhooks)")
    if settings.sora_provider in _WHSEC_PROVIDERS and not secret.startswith("whsec_"):
        return Check(name, Status.FAIL, "SORA_WEBHOOK_SECRET is not a whsec_… secret, which this provider's "
                     "webhooks are signed with", "copy the secret from the provider's webhook settings as shown")
    if port is None:
        return Check(name, Status.WARN, "WEBHOOK_PUBLIC_URL is set but WEBHOOK_PORT is not: nothing receives calls")
    host = "127.0.0.1" if settings.webhook_host in ("0.0.0.0", "", "::") else settings.webhook_host  # noqa: S104
    where = f"{settings.webhook_host}:{port}"
    ours = await _is_our_receiver(f"http://{host}:{port}/webhooks/healthz")
    if ours:
        return Check(name, Status.OK, f"listening on {where}")
    if ours is False:
        return Check(name, Status.FAIL, f"something other than sora-bot answers on {where}",
                     "choose a free WEBHOOK_PORT")
    if await asyncio.to_thread(_port_is_free, settings.webhook_host, port):
        return Check(name, Status.WARN, f"not listening on {where}: the bot is not running (the port is free)")
    return Check(name, Status.FAIL, f"cannot reach {where}, and the port is taken", "choose a free WEBHOOK_PORT")


async def check_webhook_url(settings: Settings, receiver: Check) -> Check:
    name = "Webhook URL"
    url = settings.webhook_public_url
    if url is None:
        detail = "WEBHOOK_PUBLIC_URL is unset"
        if settings.webhook_port is not None:
            detail += " (fine for OpenAI, whose URL is set in its dashboard; OpenRouter needs it)"
        return Check(name, Status.OK if settings.webhook_port is None else Status.WARN, detail)
    if receiver.status is not Status.OK or settings.webhook_port is None:
        return Check(name, Status.SKIP, f"{display_url(url)}: not checked (no receiver listening)")
    if await _is_our_receiver(f"{url}/webhooks/healthz"):
        return Check(name, Status.OK, f"{display_url(url)} leads to this receiver")
    return Check(name, Status.WARN, f"{display_url(url)}/webhooks/healthz does not lead to this receiver from "
                 "here: check the reverse proxy or tunnel (fine if this machine cannot reach its public address)")
