"""Every message a member sees, as pure functions of plain values (str, int, datetime, Decimal).

The words themselves are message ids looked up in the catalogues (bot/i18n.py, bot/locales/):
every function takes `locale=` (None: the context's locale, which the bot sets per interaction to
the member's client language). Nothing here touches Discord or the database: the cogs and the job
engine build a `JobView` from their own records and call these functions. Two rules hold for every output:

- it fits in one Discord message (`MAX_CONTENT` = 2,000 characters, counted in UTF-16 units so the
  count is safe whichever way Discord measures): the prompt is the part that gets shortened;
- user text (prompts, provider error messages) goes through `safe_user_text` first, so it cannot
  ping `@everyone`, a role or a member, and cannot fake our formatting.

Usage sketch::

    job = JobView(job_id="j7Hq2", user_id=42, prompt=prompt, model="sora-2", size="1280x720", seconds=8)
    await channel.send(status_text(job, state="queued", queue_position=3, progress=None, eta_seconds=200))
    await channel.send(result_caption(job, actual_seconds=8.0), file=..., allowed_mentions=only(user))
    await interaction.followup.send(accepted_text(job, eta_seconds=180), ephemeral=True)
"""

# The texts are split by topic (one module each); everything is importable from `bot.texts` as before.
from bot.texts.admin import (
    ADMIN_ONLY,
    GUILD_NOT_ALLOWED,
    admin_only,
    channel_mentions,
    guild_not_allowed,
    leaving_guild_text,
    listing,
    price_list,
    refused_bot_budget,
    remix_refused,
    tier_line,
)
from bot.texts.base import (
    ELLIPSIS,
    MAX_CONTENT,
    SIZE_LABELS,
    ZWSP,
    FailureKind,
    JobView,
    discord_len,
    discord_time,
    human_bytes,
    human_duration,
    progress_bar,
    safe_excerpt,
    safe_user_text,
    seconds_label,
    shorten,
    size_label,
    usd,
)
from bot.texts.jobs import (
    accepted_text,
    continuation_unsupported,
    credit_paused_line,
    credit_paused_note,
    error_id_text,
    failure_text,
    job_line,
    reply_without_text_hint,
    result_caption,
    status_text,
)
from bot.texts.models import (
    catalog_empty,
    default_model_not_allowed,
    default_model_set,
    model_summary,
    models_pages,
    refused_first_frame,
    unknown_model,
)
from bot.texts.quota import (
    quota_extras_line,
    quota_window_line,
    refused_cooldown,
    refused_guild_budget,
    refused_guild_seconds,
    refused_model,
    refused_seconds,
    refused_size,
    refused_unpriced,
    refused_user_seconds,
    refused_user_videos,
    typical_cost_line,
    wait_for_slot,
)

__all__ = [
    "ADMIN_ONLY",
    "ELLIPSIS",
    "GUILD_NOT_ALLOWED",
    "MAX_CONTENT",
    "SIZE_LABELS",
    "ZWSP",
    "FailureKind",
    "JobView",
    "accepted_text",
    "admin_only",
    "catalog_empty",
    "channel_mentions",
    "continuation_unsupported",
    "credit_paused_line",
    "credit_paused_note",
    "default_model_not_allowed",
    "default_model_set",
    "discord_len",
    "discord_time",
    "error_id_text",
    "failure_text",
    "guild_not_allowed",
    "human_bytes",
    "human_duration",
    "job_line",
    "leaving_guild_text",
    "listing",
    "model_summary",
    "models_pages",
    "price_list",
    "progress_bar",
    "quota_extras_line",
    "quota_window_line",
    "refused_bot_budget",
    "refused_cooldown",
    "refused_first_frame",
    "refused_guild_budget",
    "refused_guild_seconds",
    "refused_model",
    "refused_seconds",
    "refused_size",
    "refused_unpriced",
    "refused_user_seconds",
    "refused_user_videos",
    "remix_refused",
    "reply_without_text_hint",
    "result_caption",
    "safe_excerpt",
    "safe_user_text",
    "seconds_label",
    "shorten",
    "size_label",
    "status_text",
    "tier_line",
    "typical_cost_line",
    "unknown_model",
    "usd",
    "wait_for_slot",
]
