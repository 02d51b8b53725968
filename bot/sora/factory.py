"""Build the configured `VideoProvider` from Settings: the local `simulated` one, or the HTTP client
with the dialect profile of SORA_PROVIDER (SORA_PATHS / SORA_MODELS merged in) and the request limits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx

from bot.settings import ProviderName, Settings
from bot.sora.base import VideoProvider
from bot.sora.bounded import DownloadLimits, MiB
from bot.sora.client import HttpVideoProvider
from bot.sora.dialects import profile_for
from bot.sora.retry import RetryPolicy
from bot.sora.validate import RequestLimits


def build_provider(settings: Settings, *, http: httpx.AsyncClient | None = None,
                   retry: RetryPolicy | None = None, callback_url: str | None = None) -> VideoProvider:
    """The provider SORA_PROVIDER names. Pass `http` to share the application's connection pool
    (the provider then leaves it open on `aclose`). `callback_url` (OpenRouter only): the https URL
    sent with every create for its finish webhook; by default `<WEBHOOK_PUBLIC_URL>/webhooks/openrouter`
    while the webhook receiver is on. Raises `MissingSetting` without an API key."""
    if settings.sora_provider is ProviderName.SIMULATED:
        from bot.sora.simulated import SimulatedProvider  # imported late: only this provider needs it

        return SimulatedProvider(data_dir=settings.data_dir / "simulated",
                                 render_seconds=settings.simulated_render_seconds)
    api_key = settings.require_provider_key()
    assert api_key is not None and settings.sora_base_url  # a real provider has both (see Settings)
    common: dict[str, Any] = {
        "base_url": settings.sora_base_url, "api_key": api_key, "http": http, "retry": retry,
        "profile": profile_for(settings.sora_provider, settings.sora_paths, settings.sora_models),
        "timeout": settings.sora_timeout_seconds,
        # what bounds every HTTP dialect's downloads (README "Security")
        "trusted_origins": settings.sora_trusted_origins,
        "download_limits": DownloadLimits(max_bytes=settings.sora_max_download_mb * MiB,
                                          disk_reserve_bytes=settings.disk_reserve_mb * MiB,
                                          deadline_seconds=settings.sora_download_timeout_seconds),
    }
    if settings.sora_provider is ProviderName.OPENROUTER:
        from bot.sora.openrouter import OpenRouterProvider

        if callback_url is None and settings.webhooks_enabled:
            callback_url = settings.webhook_callback_url("openrouter")
        return OpenRouterProvider(
            **common,
            # The model's own record (GET /videos/models) bounds models, sizes and lengths; the
            # SORA_ALLOWED_* lists describe the built-in Sora profile and would refuse every slug.
            limits=replace(RequestLimits.from_settings(settings), allowed_models=None, allowed_sizes=None,
                           allowed_seconds=None),
            referer=settings.openrouter_referer or None,
            title=settings.openrouter_title or None,
            continuation_models=settings.openrouter_continuation_models,
            callback_url=callback_url,
        )
    return HttpVideoProvider(**common, limits=RequestLimits.from_settings(settings))
