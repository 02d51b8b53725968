"""The one door the Discord side uses to ask for a video or a remix.

A request is checked (blocked member, channel, the provider's allowed values, the first-frame image,
remix support) and judged against the quota; when allowed, the job row and its reservation are
written in one transaction, and only then does the poller send it upstream. A refusal is returned as
words for the member and writes nothing. If the database cannot be written, the exception goes up
and nothing is submitted (never fail open).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bot import admin, pricing, quota
from bot.engine.context import EngineContext, job_view
from bot.engine.jobs import REMIXABLE
from bot.engine.poller import Poller
from bot.engine.progress import publish_progress
from bot.images import fit_first_frame_async
from bot.settings import Settings
from bot.sora import errors
from bot.sora.models import CreateVideo
from bot.sora.validate import validate_image, validate_remix_prompt, validate_request
from bot.texts import accepted_text
from db.repository import Job, NewJob, UsageRows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requester:
    guild_id: int | None
    channel_id: int
    user_id: int
    role_ids: tuple[int, ...] = ()
    bypass: bool = False  # Manage Server, or a configured bot owner


@dataclass(frozen=True)
class Outcome:
    """Either `job` (accepted: `message` is the private confirmation) or a refusal `message`."""

    message: str
    job: Job | None = None
    refusal: str | None = None  # which check refused (for metrics)

    @property
    def accepted(self) -> bool:
        return self.job is not None


def _usage(rows: UsageRows) -> quota.Usage:
    def at(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, UTC)

    return quota.Usage(
        user_entries=tuple(quota.UsageEntry(at(e.at), e.seconds, Decimal(str(e.usd))) for e in rows.user_entries_24h),
        guild_month_seconds=rows.guild_month_seconds,
        guild_month_usd=Decimal(str(rows.guild_month_usd)),
        user_active_jobs=rows.user_active,
        guild_active_jobs=rows.guild_active,
        user_last_submission=at(rows.user_last_submit_at) if rows.user_last_submit_at else None,
    )


class JobService:
    def __init__(self, ctx: EngineContext, poller: Poller, settings: Settings) -> None:
        self.ctx = ctx
        self.poller = poller
        self.settings = settings
        ctx.guild_cap = self.guild_cap

    async def guild_cap(self, guild_id: int | None) -> int | None:
        limits = await self.limits_for(Requester(guild_id=guild_id, channel_id=0, user_id=0))
        return limits.guild_concurrent

    # --- limits --------------------------------------------------------------------------------------
    async def limits_for(self, requester: Requester) -> quota.Limits:
        base = quota.Limits.from_settings(self.settings)
        if requester.guild_id is None:
            return base
        config = await self.ctx.repo.guild_config(requester.guild_id)
        guild = admin.guild_limits(base, config.limits)
        tiers = [admin.tier_from_json(role_id, data)
                 for role_id, data in (await self.ctx.repo.role_tiers(requester.guild_id)).items()]
        return quota.resolve_limits(guild, tiers, requester.role_ids)

    async def prices_for(self, guild_id: int | None) -> dict[str, str]:
        if guild_id is not None:
            config = await self.ctx.repo.guild_config(guild_id)
            if config.prices:
                return {**self.settings.price_per_second, **config.prices}
        return dict(self.settings.price_per_second)

    async def usage(self, requester: Requester) -> quota.Usage:
        now = datetime.fromtimestamp(self.ctx.clock(), UTC)
        rows = await self.ctx.repo.usage(requester.guild_id, requester.user_id,
                                         month_start=quota.month_start(now).timestamp())
        return _usage(rows)

    async def quota_lines(self, who: Requester) -> list[str]:
        """The `/sora-quota` answer: each window's use, what is left, when it resets, a typical cost."""
        limits = await self.limits_for(who)
        now = datetime.fromtimestamp(self.ctx.clock(), UTC)
        s = self.settings
        typical = quota.Request(s.sora_default_model, s.sora_default_size, s.sora_default_seconds)
        summary = quota.summarize(limits, await self.usage(who), now, prices=await self.prices_for(who.guild_id),
                                  typical=typical)
        return quota.render_summary(summary)

    # --- requests ------------------------------------------------------------------------------------
    async def request_video(self, who: Requester, *, prompt: str, model: str | None = None,
                            size: str | None = None, seconds: int | None = None, image: bytes | None = None,
                            image_mode: str = "crop") -> Outcome:
        s = self.settings
        request = CreateVideo(prompt=prompt, model=model or s.sora_default_model, size=size or s.sora_default_size,
                              seconds=seconds or s.sora_default_seconds)
        try:
            request = self._validate(request, image)
        except errors.InvalidRequest as exc:
            return Outcome(exc.user_message, refusal="invalid")
        refusal = await self._gate(who)
        if refusal:
            return Outcome(refusal, refusal="blocked")
        image_path = None
        if image is not None:
            try:
                fitted, mime = await fit_first_frame_async(image, request.size, mode=image_mode)
            except errors.InvalidRequest as exc:
                return Outcome(exc.user_message, refusal="invalid")
            image_path = self._store_image(fitted, mime)
        return await self._create(who, NewJob(
            guild_id=who.guild_id, channel_id=who.channel_id, user_id=who.user_id, kind="generate",
            prompt=request.prompt, model=request.model, size=request.size, seconds=request.seconds,
            provider=self.ctx.provider.name, idempotency_key=_key(), image_path=image_path))

    async def request_remix(self, who: Requester, parent: Job, prompt: str, *,
                            reply_to_message_id: int | None = None) -> Outcome:
        if not self.ctx.provider.supports_remix:
            return Outcome(errors.RemixUnsupported.user_message, refusal="remix_unsupported")
        if parent.provider_id is None or parent.state not in REMIXABLE:
            return Outcome("That video isn't finished yet, so it can't be remixed.", refusal="invalid")
        if parent.guild_id != who.guild_id:
            return Outcome("You can only remix videos made in this server.", refusal="invalid")
        try:
            prompt = validate_remix_prompt(prompt, max_prompt_chars=self.settings.sora_max_prompt_chars)
        except errors.InvalidRequest as exc:
            return Outcome(exc.user_message, refusal="invalid")
        refusal = await self._gate(who)
        if refusal:
            return Outcome(refusal, refusal="blocked")
        return await self._create(who, NewJob(
            guild_id=who.guild_id, channel_id=who.channel_id, user_id=who.user_id, kind="remix", prompt=prompt,
            model=parent.model, size=parent.size, seconds=parent.seconds, provider=self.ctx.provider.name,
            idempotency_key=_key(), parent_job_id=parent.id,
            reply_to_message_id=reply_to_message_id or parent.result_message_id))

    # --- steps ---------------------------------------------------------------------------------------
    def _validate(self, request: CreateVideo, image: bytes | None) -> CreateVideo:
        s = self.settings
        if image is not None:
            validate_image(image, max_image_bytes=s.sora_max_image_bytes)
        return validate_request(request, allowed_models=s.sora_allowed_models, allowed_sizes=s.sora_allowed_sizes,
                                allowed_seconds=s.sora_allowed_seconds, max_prompt_chars=s.sora_max_prompt_chars,
                                max_image_bytes=s.sora_max_image_bytes)

    async def _gate(self, who: Requester) -> str | None:
        if who.guild_id is None:
            return None
        if await self.ctx.repo.is_blocked(who.guild_id, who.user_id):
            return "You can't make videos in this server. Ask a server admin if you think this is a mistake."
        config = await self.ctx.repo.guild_config(who.guild_id)
        if config.channels and who.channel_id not in config.channels and not who.bypass:
            where = ", ".join(f"<#{c}>" for c in config.channels[:10])
            return f"Videos can't be made in this channel. Try {where}."
        return None

    def _store_image(self, data: bytes, mime: str) -> str:
        folder = self.ctx.config.data_dir / "inputs"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = {"image/png": ".png", "image/webp": ".webp"}.get(mime, ".jpg")
        path = folder / f"{secrets.token_hex(8)}{suffix}"
        path.write_bytes(data)
        return str(path)

    async def _create(self, who: Requester, new: NewJob) -> Outcome:
        limits = await self.limits_for(who)
        new = dataclasses.replace(new, user_cap=None if who.bypass else limits.user_concurrent)
        prices = await self.prices_for(who.guild_id)
        request = quota.Request(new.model, new.size, new.seconds)
        now_ts = self.ctx.clock()
        now = datetime.fromtimestamp(now_ts, UTC)
        try:
            cost = pricing.price(new.model, new.size, new.seconds, prices)
        except pricing.UnknownPrice:
            cost = Decimal(0)  # unpriced: `decide` refuses it where the guild has a budget
        job, decision = await self.ctx.repo.create_job(
            new,
            decide=lambda rows: quota.decide(request, limits, _usage(rows), now, prices=prices, bypass=who.bypass),
            allowed=lambda d: d.allowed,
            reserve_seconds=float(new.seconds), reserve_usd=float(cost),
            month_start=quota.month_start(now).timestamp())
        if job is None:
            if self.ctx.metrics is not None and decision.reason is not None:
                self.ctx.metrics.quota_refusals.labels(limit=decision.reason.value).inc()
            if new.image_path:
                Path(new.image_path).unlink(missing_ok=True)
            return Outcome(decision.message, refusal=decision.reason.value if decision.reason else "quota")
        if decision.bypassed:
            log.info("limits bypassed: %s", ",".join(r.value for r in decision.bypassed),
                     extra=self.ctx.extra(job))
        log.info("job accepted: %s %s %ss", job.model, job.size, job.seconds, extra=self.ctx.extra(job))
        eta = await self.ctx.expected_seconds(job)
        await publish_progress(self.ctx, job, force=True)
        await self.ctx.outbox.flushed(job)  # the status message exists before the member is told
        self.poller.wake()
        text = accepted_text(job_view(job), eta_seconds=eta, cost=cost if cost else None)
        if decision.message:
            text += "\n" + decision.message
        return Outcome(text, job=job)


def _key() -> str:
    return "sora-bot-" + secrets.token_hex(12)
