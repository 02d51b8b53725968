"""build_provider applies the download bounds (README "Security") to every HTTP dialect alike."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from bot.sora.factory import build_provider


@pytest.mark.parametrize("provider", ["openai", "juheapi", "xingchaoyiqing", "openrouter"])
async def test_every_http_dialect_gets_the_download_settings(provider):
    settings = Settings(_env_file=None, SORA_PROVIDER=provider, SORA_API_KEY="k", SORA_MAX_DOWNLOAD_MB=7,
                        DISK_RESERVE_MB=3, SORA_DOWNLOAD_TIMEOUT_SECONDS=42,
                        SORA_TRUSTED_ORIGINS="https://files.example.net")
    built = build_provider(settings)
    try:
        limits = built._download_limits
        assert (limits.max_bytes, limits.disk_reserve_bytes, limits.deadline_seconds) == (7 << 20, 3 << 20, 42)
        assert built.download_guard.is_trusted("https://files.example.net/v.mp4")
    finally:
        await built.aclose()
