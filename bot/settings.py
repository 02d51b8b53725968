"""Every setting the bot reads, from the environment and an optional `.env`, validated once at start-up.

The names operators' deployments rely on (DISCORD_TOKEN, SORA_PROVIDER, SORA_BASE_URL, SORA_API_KEY,
DATABASE_URL, DATA_DIR, DISCORD_GUILD_IDS; docs/ARCHITECTURE.md "A setting") are kept exactly. Every
variable here is documented in README.md and `.env.example`; a test checks the three agree.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ProviderName(StrEnum):
    OPENAI = "openai"
    JUHEAPI = "juheapi"
    XINGCHAOYIQING = "xingchaoyiqing"
    OPENROUTER = "openrouter"
    SIMULATED = "simulated"


class MissingSetting(Exception):
    """A required variable is not set; `variable` names it for the one-line error."""

    def __init__(self, variable: str, why: str) -> None:
        super().__init__(f"{variable} is not set: {why}")
        self.variable = variable


DEFAULT_BASE_URLS = {
    ProviderName.OPENAI: "https://api.openai.com/v1",
    ProviderName.JUHEAPI: "https://api.juheapi.com/v1",
    ProviderName.XINGCHAOYIQING: "https://api.xingchaoyiqing.com/v1",
    ProviderName.OPENROUTER: "https://openrouter.ai/api/v1",
    ProviderName.SIMULATED: "",
}


# Providers that never push "your video is done" (no webhooks documented): the receiver stays off for them.
NO_WEBHOOK_PROVIDERS = frozenset({"xingchaoyiqing", "simulated"})


def _split_csv(value: Any) -> Any:
    """Accept `a,b,c` (what people type in .env) as well as a JSON list."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _json_object(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        return json.loads(text) if text else {}
    return value


CsvStr = Annotated[list[str], NoDecode]
CsvInt = Annotated[list[int], NoDecode]
JsonMap = Annotated[dict[str, str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- Discord -----------------------------------------------------------------------------
    discord_token: SecretStr | None = Field(default=None, alias="DISCORD_TOKEN")
    discord_guild_ids: CsvInt = Field(default_factory=list, alias="DISCORD_GUILD_IDS")
    discord_message_content: bool = Field(default=False, alias="DISCORD_MESSAGE_CONTENT")
    bot_owner_ids: CsvInt = Field(default_factory=list, alias="BOT_OWNER_IDS")
    # The operator's hard ceilings (README "Security"): servers the bot serves (empty: any), and the
    # estimated USD the whole bot may spend per calendar month (None: no ceiling). No bypass.
    discord_allowed_guild_ids: CsvInt = Field(default_factory=list, alias="DISCORD_ALLOWED_GUILD_IDS")
    bot_usd_per_month: float | None = Field(default=None, ge=0, alias="BOT_USD_PER_MONTH")
    # Scale-out: this process runs shards DISCORD_SHARD_IDS of DISCORD_SHARD_COUNT (AutoShardedBot).
    discord_shard_count: int | None = Field(default=None, ge=1, alias="DISCORD_SHARD_COUNT")
    discord_shard_ids: str | None = Field(default=None, alias="DISCORD_SHARD_IDS")
    # A shared Discord REST rate-limit proxy (e.g. nirn-proxy) in front of discord.com for many processes.
    discord_rest_url: str | None = Field(default=None, alias="DISCORD_REST_URL")

    # --- Provider ----------------------------------------------------------------------------
    sora_provider: ProviderName = Field(default=ProviderName.OPENAI, alias="SORA_PROVIDER")
    sora_base_url: str | None = Field(default=None, alias="SORA_BASE_URL")
    sora_api_key: SecretStr | None = Field(default=None, alias="SORA_API_KEY")
    # Overrides of the dialect profile, without code: {"status": "/result/{id}"} and {"sora-2": "x"}.
    sora_paths: JsonMap = Field(default_factory=dict, alias="SORA_PATHS")
    sora_models: JsonMap = Field(default_factory=dict, alias="SORA_MODELS")
    sora_timeout_seconds: float = Field(default=30.0, gt=0, alias="SORA_TIMEOUT_SECONDS")
    sora_requests_per_second: float = Field(default=2.0, gt=0, alias="SORA_REQUESTS_PER_SECOND")
    sora_max_concurrent_jobs: int = Field(default=4, ge=1, alias="SORA_MAX_CONCURRENT_JOBS")
    sora_allowed_models: CsvStr = Field(default_factory=lambda: ["sora-2", "sora-2-pro"],
                                        alias="SORA_ALLOWED_MODELS")
    sora_allowed_sizes: CsvStr = Field(
        default_factory=lambda: ["720x1280", "1280x720", "1024x1792", "1792x1024"],
        alias="SORA_ALLOWED_SIZES")
    sora_allowed_seconds: CsvInt = Field(default_factory=lambda: [4, 8, 12], alias="SORA_ALLOWED_SECONDS")
    sora_default_model: str = Field(default="sora-2", alias="SORA_DEFAULT_MODEL")
    sora_default_size: str = Field(default="1280x720", alias="SORA_DEFAULT_SIZE")
    sora_default_seconds: int = Field(default=4, alias="SORA_DEFAULT_SECONDS")
    sora_max_prompt_chars: int = Field(default=32000, ge=1, alias="SORA_MAX_PROMPT_CHARS")
    sora_max_image_bytes: int = Field(default=20 * 1024 * 1024, ge=1, alias="SORA_MAX_IMAGE_BYTES")
    # How often the provider's model catalog (GET /videos/models) is read again, where it has one.
    catalog_refresh_hours: float = Field(default=6.0, gt=0, le=24 * 30, alias="CATALOG_REFRESH_HOURS")
    # OpenRouter only: attribution headers sent on every request to OpenRouter (shown on its rankings),
    # the models that accept `previous_job_id` (continuation remixes), and the 402 recheck backoff.
    openrouter_referer: str = Field(default="https://github.com/sora-bot/sora-bot", alias="OPENROUTER_REFERER")
    openrouter_title: str = Field(default="sora-bot", alias="OPENROUTER_TITLE")
    openrouter_continuation_models: CsvStr = Field(
        default_factory=lambda: ["google/veo-3.1", "google/veo-3.1-fast", "google/veo-3.1-lite", "openai/sora-2-pro",
                                 "runway/aleph-2", "x-ai/grok-imagine-video"],
        alias="OPENROUTER_CONTINUATION_MODELS")
    credit_recheck_seconds: float = Field(default=300.0, gt=0, alias="CREDIT_RECHECK_SECONDS")
    credit_recheck_max_seconds: float = Field(default=3600.0, gt=0, alias="CREDIT_RECHECK_MAX_SECONDS")
    simulated_render_seconds: float = Field(default=20.0, ge=0, alias="SIMULATED_RENDER_SECONDS")
    # Hostile-input limits (README "Security"): origins trusted like SORA_BASE_URL's for downloads,
    # and the ceilings of one download.
    sora_trusted_origins: CsvStr = Field(default_factory=list, alias="SORA_TRUSTED_ORIGINS")
    sora_max_download_mb: int = Field(default=512, ge=1, alias="SORA_MAX_DOWNLOAD_MB")
    sora_download_timeout_seconds: float = Field(default=900.0, gt=0, alias="SORA_DOWNLOAD_TIMEOUT_SECONDS")
    disk_reserve_mb: int = Field(default=256, ge=0, alias="DISK_RESERVE_MB")

    # --- Storage -----------------------------------------------------------------------------
    database_url: str = Field(default="sqlite:///data/sora-bot.db", alias="DATABASE_URL")
    data_dir: Path = Field(default=Path("data"), alias="DATA_DIR")
    retention_hours: float = Field(default=72.0, ge=0, alias="RETENTION_HOURS")
    max_disk_mb: int = Field(default=2048, ge=1, alias="MAX_DISK_MB")
    # Several processes on one PostgreSQL: the name on this process's job leases (default: host name
    # and shard ids), and how long a lease lasts before another process may take the job over.
    bot_instance_name: str | None = Field(default=None, alias="BOT_INSTANCE_NAME")
    job_lease_seconds: float = Field(default=300.0, gt=0, alias="JOB_LEASE_SECONDS")

    # --- Quota defaults for a new guild (admins change them with /sora-admin) ---------------------
    quota_user_videos_per_day: int | None = Field(default=3, ge=0, alias="QUOTA_USER_VIDEOS_PER_DAY")
    quota_user_seconds_per_day: int | None = Field(default=None, ge=0, alias="QUOTA_USER_SECONDS_PER_DAY")
    quota_guild_seconds_per_month: int | None = Field(default=None, ge=0,
                                                      alias="QUOTA_GUILD_SECONDS_PER_MONTH")
    quota_guild_usd_per_month: float | None = Field(default=20.0, ge=0, alias="QUOTA_GUILD_USD_PER_MONTH")
    quota_user_concurrent: int | None = Field(default=2, ge=0, alias="QUOTA_USER_CONCURRENT")
    quota_guild_concurrent: int | None = Field(default=5, ge=0, alias="QUOTA_GUILD_CONCURRENT")
    quota_user_cooldown_seconds: int = Field(default=30, ge=0, alias="QUOTA_USER_COOLDOWN_SECONDS")
    quota_default_models: CsvStr = Field(default_factory=lambda: ["sora-2"], alias="QUOTA_DEFAULT_MODELS")
    quota_default_seconds: CsvInt = Field(default_factory=lambda: [4, 8], alias="QUOTA_DEFAULT_SECONDS")
    # USD per second of video, by "model" or "model@size"; the most specific key wins.
    price_per_second: JsonMap = Field(
        default_factory=lambda: {
            "sora-2": "0.10",
            "sora-2-pro": "0.30",
            "sora-2-pro@1024x1792": "0.50",
            "sora-2-pro@1792x1024": "0.50",
        },
        alias="PRICE_PER_SECOND",
    )

    ffmpeg_binary: str | None = Field(default=None, alias="FFMPEG_BINARY")

    # --- Operations --------------------------------------------------------------------------
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    log_format: str = Field(default="kv", pattern="^(kv|json)$", alias="LOG_FORMAT")
    health_port: int | None = Field(default=None, ge=0, le=65535, alias="HEALTH_PORT")
    health_host: str = Field(default="127.0.0.1", alias="HEALTH_HOST")

    # --- Webhooks: providers push "your video is done" (bot/webhooks/; off unless WEBHOOK_PORT is set) ---
    webhook_port: int | None = Field(default=None, ge=0, le=65535, alias="WEBHOOK_PORT")
    webhook_host: str = Field(default="127.0.0.1", alias="WEBHOOK_HOST")
    webhook_public_url: str | None = Field(default=None, alias="WEBHOOK_PUBLIC_URL")
    sora_webhook_secret: SecretStr | None = Field(default=None, alias="SORA_WEBHOOK_SECRET")

    # --- Testing against loopback fakes (leave unset in production) ------------------------------
    discord_api_url: str | None = Field(default=None, alias="DISCORD_API_URL")
    engine_time_scale: float = Field(default=1.0, gt=0, le=1, alias="ENGINE_TIME_SCALE")

    _csv = field_validator(
        "discord_guild_ids", "bot_owner_ids", "sora_allowed_models", "sora_allowed_sizes",
        "sora_allowed_seconds", "quota_default_models", "quota_default_seconds", "sora_trusted_origins",
        "discord_allowed_guild_ids", "openrouter_continuation_models", mode="before",
    )(_split_csv)
    _json = field_validator("sora_paths", "sora_models", "price_per_second", mode="before")(_json_object)

    @field_validator("quota_user_videos_per_day", "quota_user_seconds_per_day",
                     "quota_guild_seconds_per_month", "quota_guild_usd_per_month",
                     "quota_user_concurrent", "quota_guild_concurrent", "health_port", "bot_usd_per_month",
                     "webhook_port", "webhook_public_url", "sora_webhook_secret", "sora_base_url",
                     "discord_api_url", "ffmpeg_binary", "discord_shard_count", "discord_shard_ids", "discord_rest_url",
                     "bot_instance_name", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("", "none", "off"):
            return None
        return value

    @field_validator("webhook_public_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        """Providers call it over the internet: https (plain http only for a loopback address, in tests)."""
        if value is None:
            return None
        parts = urlsplit(value.strip())
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if (parts.scheme != "https" and not (parts.scheme == "http" and loopback)) or not parts.hostname:
            raise ValueError("must be an https:// URL (the address providers call, e.g. https://bot.example.com)")
        if parts.query or parts.fragment:
            raise ValueError("must not have a ?query or #fragment: /webhooks/<provider> is appended to it")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _fill_base_url(self) -> Settings:
        if not self.sora_base_url:
            self.sora_base_url = DEFAULT_BASE_URLS[self.sora_provider] or None
        parse_shard_ids(self.discord_shard_ids, self.discord_shard_count)  # a bad spec fails at start
        return self

    # --- derived -----------------------------------------------------------------------------
    @property
    def database_path(self) -> Path:
        """The SQLite file named by DATABASE_URL (`sqlite:///relative` or `sqlite:////absolute`)."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            raise ValueError(f"DATABASE_URL must start with {prefix!r} or 'postgresql://'")
        return Path(self.database_url[len(prefix):])

    @property
    def database_is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))

    @property
    def shard_ids(self) -> list[int] | None:
        """DISCORD_SHARD_IDS parsed (`0-3`, `0,2`, `0-1,4`), or None: every shard of the count."""
        return parse_shard_ids(self.discord_shard_ids, self.discord_shard_count)

    @property
    def instance_name(self) -> str:
        if self.bot_instance_name:
            return self.bot_instance_name
        import socket

        shards = self.discord_shard_ids or "all"
        return f"{socket.gethostname()}/shards-{shards}"

    @property
    def webhooks_enabled(self) -> bool:
        """The receiver runs (and polling becomes the safety net) only with a port and a secret, and
        for a provider that sends webhooks at all."""
        return (self.webhook_port is not None and self.webhook_secret is not None
                and self.sora_provider.value not in NO_WEBHOOK_PROVIDERS)

    @property
    def webhook_secret(self) -> str | None:
        """SORA_WEBHOOK_SECRET's value, or None when unset or blank."""
        value = self.sora_webhook_secret.get_secret_value().strip() if self.sora_webhook_secret else ""
        return value or None

    def webhook_callback_url(self, provider: str) -> str | None:
        """The URL a provider should call for `provider`'s events (`<WEBHOOK_PUBLIC_URL>/webhooks/<provider>`),
        e.g. OpenRouter's per-request `callback_url`; None when WEBHOOK_PUBLIC_URL is unset."""
        if not self.webhook_public_url:
            return None
        return f"{self.webhook_public_url.rstrip('/')}/webhooks/{provider}"

    def secret_values(self) -> list[str]:
        """Every secret this configuration holds, for the log and doctor scrubbers: the Discord
        token, the provider key, the webhook secret and a PostgreSQL password (as written in
        DATABASE_URL and percent-decoded)."""
        found = [s.get_secret_value() for s in (self.discord_token, self.sora_api_key, self.sora_webhook_secret)
                 if s is not None and s.get_secret_value()]
        try:
            password = urlsplit(self.database_url).password
        except ValueError:
            password = None
        if password:
            found += [password, unquote(password)]
        return list(dict.fromkeys(found))

    def require_discord(self) -> str:
        if self.discord_token is None or not self.discord_token.get_secret_value().strip():
            raise MissingSetting("DISCORD_TOKEN", "the bot's token from the Discord developer portal")
        return self.discord_token.get_secret_value()

    def require_provider_key(self) -> str | None:
        if self.sora_provider is ProviderName.SIMULATED:
            return None
        if self.sora_api_key is None or not self.sora_api_key.get_secret_value().strip():
            raise MissingSetting(
                "SORA_API_KEY", f"the {self.sora_provider.value} provider needs an API key "
                "(or set SORA_PROVIDER=simulated to try the bot for free)")
        return self.sora_api_key.get_secret_value()


def parse_shard_ids(spec: str | None, count: int | None) -> list[int] | None:
    """`0-3` → [0, 1, 2, 3]; `0,2` → [0, 2]; None → None. Each id must be below `count`."""
    if spec is None:
        return None
    if count is None:
        raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT")
    ids: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"DISCORD_SHARD_IDS: {part!r} is not a shard id or range like 0-3")
        first, last = int(low), int(high or low)
        if first > last:
            raise ValueError(f"DISCORD_SHARD_IDS: the range {part!r} runs backwards")
        ids.update(range(first, last + 1))
    if not ids:
        raise ValueError("DISCORD_SHARD_IDS is empty")
    if max(ids) >= count:
        raise ValueError(f"DISCORD_SHARD_IDS: shard {max(ids)} does not exist with DISCORD_SHARD_COUNT={count}")
    return sorted(ids)
