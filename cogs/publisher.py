"""The Discord side of the job engine's `Publisher` port: status edits, the result post, failures.

Everything goes through the bot token (`channel.send`, message edits), never an interaction webhook,
so a job that outlives the 15-minute interaction token is still delivered. Mentions: none by default;
the requester alone is opted in on the result and failure messages.

Exactly-once result posts: the post carries a nonce derived from the job id with `enforce_nonce`, so
Discord itself drops a retried duplicate for a few minutes; before a retry we also look through the
channel's recent messages for a result of this job (its Remix button's custom id names the job).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot.domain.records import Job
from bot.engine.outbox import BucketState
from bot.engine.ports import DeliveryRejected, DeliveryRetryable, UploadTooLarge
from cogs.controls import AgainButton, status_view
from cogs.extend import ExtendButton
from cogs.ratelimits import RateLimits
from cogs.views import RemixButton, remix_custom_id

if TYPE_CHECKING:
    from discord.ext import commands

log = logging.getLogger(__name__)

HISTORY_LOOKBACK = 100  # messages searched for an earlier post of a result before posting again


def result_nonce(job: Job) -> str:
    """At most 25 characters, unique per job."""
    return f"sora-result-{job.id}"[:25]


def result_items(job: Job, *, extendable: bool = False) -> list[discord.ui.Item]:
    """The buttons a result carries beside `Remix`: Again, and Extend where the provider can continue
    the video (cogs/extend.py)."""
    items: list[discord.ui.Item] = [AgainButton(job.id, locale=job.locale)]
    if extendable:
        items.append(ExtendButton(job.id, locale=job.locale))
    return items

def _reference(job: Job) -> dict[str, Any]:
    """`send`'s `reference=` for a job that answers a message (a remix asked by reply), else nothing."""
    if not job.reply_to_message_id:
        return {}
    return {"reference": discord.MessageReference(message_id=job.reply_to_message_id, channel_id=job.channel_id,
                                                  fail_if_not_exists=False)}


class DiscordPublisher:
    def __init__(self, bot: commands.Bot, rate_limits: RateLimits | None = None) -> None:
        self.bot = bot
        self.rate_limits = rate_limits or RateLimits()  # learned from the headers when the bot traces them
        # The authoritative per-guild upload limit, from the latest interaction's attachment_size_limit.
        self.upload_limits: dict[int, int] = {}

    def remember_upload_limit(self, guild_id: int | None, limit: int | None) -> None:
        if guild_id is not None and limit:
            self.upload_limits[guild_id] = int(limit)

    async def _channel(self, job: Job) -> discord.abc.Messageable:
        channel = self.bot.get_channel(job.channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(job.channel_id)
            except discord.NotFound as exc:
                raise DeliveryRejected("the channel no longer exists") from exc
            except discord.Forbidden as exc:
                raise DeliveryRejected("the bot can no longer see this channel") from exc
            except (TimeoutError, discord.HTTPException, aiohttp.ClientError) as exc:
                raise DeliveryRetryable(f"could not reach the channel: {exc}") from exc
        return channel  # type: ignore[return-value]

    # --- Publisher ---------------------------------------------------------------------------------
    def rate_limit(self, channel_id: int, lane: str) -> BucketState | None:
        """The channel's post or edit bucket as Discord's headers last described it."""
        return self.rate_limits.get(channel_id, lane)

    async def upload_limit(self, job: Job) -> int:
        if job.guild_id is not None and job.guild_id in self.upload_limits:
            return self.upload_limits[job.guild_id]
        guild = self.bot.get_guild(job.guild_id) if job.guild_id else None
        return guild.filesize_limit if guild is not None else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES

    async def publish_progress(self, job: Job, text: str) -> int | None:
        channel = await self._channel(job)
        if job.status_message_id:
            message = channel.get_partial_message(job.status_message_id)  # type: ignore[attr-defined]
            try:
                await message.edit(content=text, view=status_view(job), allowed_mentions=discord.AllowedMentions.none())
                return job.status_message_id
            except discord.NotFound:
                log.info("status message was deleted; posting a new one", extra=job.log_extra())
        extra = _reference(job)
        view = status_view(job)
        if view is not None:
            extra["view"] = view
        sent = await channel.send(text, allowed_mentions=discord.AllowedMentions.none(), **extra)
        return sent.id

    async def publish_result(self, job: Job, video: Path, caption: str) -> int:
        channel = await self._channel(job)
        if job.attempts > 1:  # an earlier attempt may have posted before a crash or a lost answer
            found = await self._find_earlier_result(channel, job)
            if found is not None:
                log.info("result was already posted as %s; not posting again", found, extra=job.log_extra())
                return found
        view = discord.ui.View(timeout=None)
        view.add_item(RemixButton(job.id, locale=job.locale))
        jobs = getattr(self.bot, "jobs", None)
        for item in result_items(job, extendable=jobs is not None and jobs.extendable(job)):  # Again, Extend
            view.add_item(item)
        try:
            sent = await channel.send(
                caption, file=discord.File(video, filename=f"sora-{job.id}.mp4"), view=view,
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(job.user_id)], everyone=False,
                                                         roles=False, replied_user=False),
                nonce=result_nonce(job), **_reference(job))
        except discord.HTTPException as exc:
            raise _delivery_error(exc) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise DeliveryRetryable(f"network error while posting: {exc}") from exc
        return sent.id

    async def publish_failure(self, job: Job, text: str) -> None:
        channel = await self._channel(job)
        await channel.send(text, allowed_mentions=discord.AllowedMentions(users=[discord.Object(job.user_id)],
                                                                          everyone=False, roles=False))

    async def _find_earlier_result(self, channel: discord.abc.Messageable, job: Job) -> int | None:
        wanted = remix_custom_id(job.id)
        me = self.bot.user.id if self.bot.user else None
        try:
            # only messages newer than the job (ids restart if the database is ever reset)
            after = discord.Object(discord.utils.time_snowflake(
                datetime.fromtimestamp(job.created_at, UTC), high=False))
            async for message in channel.history(limit=HISTORY_LOOKBACK, after=after):
                if message.author.id != me or not message.attachments:
                    continue
                for row in message.components:
                    for child in getattr(row, "children", []):
                        if getattr(child, "custom_id", None) == wanted:
                            return message.id
        except discord.HTTPException as exc:
            raise _delivery_error(exc) from exc
        return None


def _delivery_error(exc: discord.HTTPException) -> Exception:
    if exc.status == 413 or exc.code == 40005:
        return UploadTooLarge(f"Discord refused the file as too large: {exc.text}")
    if exc.status == 404:
        return DeliveryRejected("the channel no longer exists")
    if exc.status == 403:
        # Missing permissions can be fixed by an admin: retried with backoff, then given up.
        return DeliveryRetryable(f"missing permission to post here (code {exc.code})", retry_after=60)
    return DeliveryRetryable(f"Discord error {exc.status} (code {exc.code})")


if TYPE_CHECKING:  # the type checker proves the class implements the port
    from bot.engine.ports import Publisher

    _implements: type[Publisher] = DiscordPublisher
