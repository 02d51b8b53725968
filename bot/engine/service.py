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

from bot import i18n, media_types, pricing, quota, texts
from bot import texts_controls as controls_words
from bot.catalog import choices
from bot.catalog.capabilities import ModelCapabilities
from bot.catalog.service import Catalog, CatalogService
from bot.domain.jobs import REMIXABLE
from bot.domain.records import Job, NewJob
from bot.engine.context import EngineContext, job_view
from bot.engine.poller import Poller
from bot.engine.progress import publish_progress
from bot.engine.quota_service import QuotaService, usage_from_rows
from bot.images import FitMode, cropped_preview_async, fit_first_frame_async
from bot.settings import Settings
from bot.sora import errors
from bot.sora.models import CreateVideo
from bot.sora.validate import validate_image, validate_remix_prompt, validate_request
from bot.texts import accepted_text, continuation_unsupported, credit_paused_line, remix_refused
from bot.texts_controls import first_frame_note

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requester:
    guild_id: int | None
    channel_id: int
    user_id: int
    role_ids: tuple[int, ...] = ()
    bypass: bool = False  # Manage Server, or a configured bot owner
    guild_locale: str | None = None  # the server's Discord preferred locale (public messages speak it)


@dataclass(frozen=True)
class Outcome:
    """Either `job` (accepted: `message` is the private confirmation) or a refusal `message`."""

    message: str
    job: Job | None = None
    refusal: str | None = None  # which check refused (for metrics)
    preview: bytes | None = None  # a small PNG of the first frame as cropped, when the crop trimmed it

    @property
    def accepted(self) -> bool:
        return self.job is not None


class JobService:
    def __init__(self, ctx: EngineContext, poller: Poller, settings: Settings,
                 catalog: CatalogService | None = None) -> None:
        self.ctx = ctx
        self.poller = poller
        self.settings = settings
        self.catalog = catalog or CatalogService(ctx.repo, ctx.provider, settings, clock=ctx.clock)
        self.quota = QuotaService(ctx.repo, settings, self.catalog)  # limits, prices, tiers, admin changes
        ctx.guild_cap = self.quota.guild_cap

    async def limits_for(self, who: Requester) -> quota.Limits:
        return await self.quota.limits_for(who.guild_id, who.role_ids)

    # --- what a member may pick (the catalog narrowed by the server's allow-lists) --------------------
    async def models_for(self, who: Requester) -> list[ModelCapabilities]:
        return choices.allowed_models(self.catalog.current().models, await self.limits_for(who))

    async def default_model(self, who: Requester) -> str:
        """The server's default model (/sora-admin default-model), else SORA_DEFAULT_MODEL; with a
        fetched catalog that lacks it, the first model the member may use."""
        catalog = self.catalog.current()
        if who.guild_id is not None:
            chosen = await self.ctx.repo.guild_default_model(who.guild_id)
            if chosen and (catalog.get(chosen) is not None):
                return chosen
        preferred = self.settings.sora_default_model
        if catalog.builtin or catalog.get(preferred) is not None:
            return preferred
        allowed = await self.models_for(who)
        return allowed[0].id if allowed else (catalog.ids[0] if catalog.ids else preferred)

    async def offer(self, who: Requester, model: str | None) -> tuple[ModelCapabilities, list[str], list[int]] | None:
        """The model (or the member's default) with the sizes and durations the member may pick."""
        caps = self.catalog.current().get(model or await self.default_model(who))
        if caps is None:
            return None
        limits = await self.limits_for(who)
        return caps, choices.offered_sizes(caps, limits), choices.offered_seconds(caps, limits)

    async def model_menu(self, who: Requester) -> list[tuple[ModelCapabilities, Decimal | None]]:
        """The models the member may use, each with its USD per second at the member's usual size
        (for labels such as "Google: Veo 3.1 · ~$0.40/s"); the database is read once."""
        limits = await self.limits_for(who)
        guild = await self.quota.guild_prices(who.guild_id)
        table = {**self.settings.price_per_second, **(guild or {})}
        menu = []
        for caps in choices.allowed_models(self.catalog.current().models, limits):
            size = choices.pick(self.settings.sora_default_size, choices.offered_sizes(caps, limits))
            menu.append((caps, None if size is None else choices.price_hint(caps, size, table, guild)))
        return menu

    async def usage(self, requester: Requester) -> quota.Usage:
        return await self.quota.usage(requester.guild_id, requester.user_id,
                                      datetime.fromtimestamp(self.ctx.clock(), UTC))

    async def quota_lines(self, who: Requester) -> list[str]:
        """The `/sora-quota` answer: each window's use, what is left, when it resets, a typical cost."""
        limits = await self.limits_for(who)
        now = datetime.fromtimestamp(self.ctx.clock(), UTC)
        s = self.settings
        typical = quota.Request(s.sora_default_model, s.sora_default_size, s.sora_default_seconds)
        offer = None if self.catalog.current().builtin else await self.offer(who, None)
        if offer is not None:  # a listed catalog: the member's default model at its usual size and length
            caps, sizes, seconds = offer
            typical = quota.Request(caps.id, choices.pick(s.sora_default_size, sizes) or s.sora_default_size,
                                    choices.pick(s.sora_default_seconds, seconds) or s.sora_default_seconds)
        summary = quota.summarize(limits, await self.usage(who), now,
                                  prices=await self.quota.prices_for(who.guild_id, typical.model), typical=typical)
        return quota.render_summary(summary)

    async def public_locale(self, guild_id: int | None, guild_locale: str | None = None) -> str:
        """The language of a server's public messages: /sora-admin language's choice, else the server's
        Discord preferred locale (when we have a catalogue for it), else English."""
        chosen = await self.ctx.repo.guild_language(guild_id) if guild_id is not None else None
        return i18n.normalize(chosen or guild_locale)

    # --- requests ------------------------------------------------------------------------------------
    async def request_video(self, who: Requester, *, prompt: str, model: str | None = None,
                            size: str | None = None, seconds: int | None = None, image: bytes | None = None,
                            image_mode: FitMode = "crop", reply_to_message_id: int | None = None) -> Outcome:
        s = self.settings
        catalog = self.catalog.current()
        if not catalog.models:
            return Outcome(texts.catalog_empty(), refusal="invalid")
        model = model or await self.default_model(who)
        caps = catalog.get(model)
        if caps is not None and not catalog.builtin:  # the model's own usual values, when unset
            size = size or choices.pick(s.sora_default_size, caps.sizes) or s.sora_default_size
            seconds = seconds or choices.pick(s.sora_default_seconds, caps.durations) or s.sora_default_seconds
        request = CreateVideo(prompt=prompt, model=model, size=size or s.sora_default_size,
                              seconds=seconds or s.sora_default_seconds)
        try:
            request = self._validate(request, image, catalog, caps)
        except errors.InvalidRequest as exc:
            return Outcome(exc.user_message, refusal="invalid")
        refusal = await self._gate(who)
        if refusal:
            return Outcome(refusal, refusal="blocked")
        image_path = preview = None
        if image is not None:
            # Decoding costs memory and CPU: only for a request the quota and cooldown would accept
            # (create_job decides again, atomically, when it writes the job).
            early = await self._quota_precheck(who, quota.Request(request.model, request.size, request.seconds))
            if early is not None:
                return early
            try:
                fitted, mime = await fit_first_frame_async(image, request.size, mode=image_mode)
            except errors.InvalidRequest as exc:
                return Outcome(exc.user_message, refusal="invalid")
            if image_mode == "crop":
                preview = await cropped_preview_async(image, fitted, request.size)
            image_path = self._store_image(fitted, mime)
        outcome = await self._create(who, NewJob(
            guild_id=who.guild_id, channel_id=who.channel_id, user_id=who.user_id, kind="generate",
            prompt=request.prompt, model=request.model, size=request.size, seconds=request.seconds,
            provider=self.ctx.provider.name, idempotency_key=_key(), image_path=image_path,
            reply_to_message_id=reply_to_message_id))
        if outcome.accepted and preview is not None:
            outcome = dataclasses.replace(outcome, message=outcome.message + "\n" + first_frame_note(request.size),
                                          preview=preview)
        return outcome

    async def request_remix(self, who: Requester, parent: Job, prompt: str, *,
                            reply_to_message_id: int | None = None) -> Outcome:
        if not self.ctx.provider.supports_remix:
            return Outcome(errors.RemixUnsupported.user_message, refusal="remix_unsupported")
        if parent.provider_id is None or parent.state not in REMIXABLE or parent.guild_id != who.guild_id:
            return Outcome(remix_refused(parent.id), refusal="invalid")
        can_continue = getattr(self.ctx.provider, "can_continue", None)  # OpenRouter: only some models
        if can_continue is not None and not can_continue(parent.model):
            return Outcome(continuation_unsupported(parent.model), refusal="remix_unsupported")
        return await self._continue(who, parent, kind="remix", prompt=prompt, seconds=parent.seconds,
                                    reply_to_message_id=reply_to_message_id)

    async def _continue(self, who: Requester, parent: Job, *, kind: str, prompt: str, seconds: int,
                        reply_to_message_id: int | None) -> Outcome:
        """A new job of `kind` that continues `parent` (a remix or an extension), answering the source's
        result: the change is checked, then the member's gate, then the same create path as /sora."""
        try:
            prompt = validate_remix_prompt(prompt, max_prompt_chars=self.settings.sora_max_prompt_chars)
        except errors.InvalidRequest as exc:
            return Outcome(exc.user_message, refusal="invalid")
        refusal = await self._gate(who)
        if refusal:
            return Outcome(refusal, refusal="blocked")
        return await self._create(who, NewJob(
            guild_id=who.guild_id, channel_id=who.channel_id, user_id=who.user_id, kind=kind, prompt=prompt,
            model=parent.model, size=parent.size, seconds=seconds, provider=self.ctx.provider.name,
            idempotency_key=_key(), parent_job_id=parent.id,
            reply_to_message_id=reply_to_message_id or parent.result_message_id))

    # --- extensions --------------------------------------------------------------------------------
    def extension_lengths(self, parent: Job) -> list[int]:
        """The lengths (seconds) an extension of `parent` may add: the provider's own set where it has
        one (OpenAI's /videos/extensions: 4, 8, 12) within the model's durations, else the model's
        durations; empty when the provider cannot continue this model's videos."""
        provider = self.ctx.provider
        can_extend = getattr(provider, "can_extend", None)
        if can_extend is None or not can_extend(parent.model):
            return []
        caps = self.catalog.current().get(parent.model)
        durations = set(caps.durations) if caps is not None and caps.durations else set()
        fixed_for = getattr(provider, "extension_seconds", None)
        fixed = fixed_for(parent.model) if fixed_for is not None else None
        if fixed is None:
            return sorted(durations or {parent.seconds})
        return sorted(set(fixed) & durations if durations else set(fixed))

    def extendable(self, job: Job) -> bool:
        """Whether `job`'s video can be continued (the Extend button is shown only then)."""
        return bool(self.extension_lengths(job))

    async def request_extension(self, who: Requester, parent: Job, prompt: str, seconds: int, *,
                                reply_to_message_id: int | None = None) -> Outcome:
        """`seconds` more of `parent`'s video, directed by `prompt`: a new job of kind `extend`, priced
        and quota-checked at the extension's length through the same path as /sora and remix."""
        if parent.guild_id != who.guild_id:
            return Outcome(controls_words.extend_refused(parent.id), refusal="invalid")
        lengths = self.extension_lengths(parent)
        if not lengths:
            return Outcome(controls_words.extend_unsupported(parent.model), refusal="extend_unsupported")
        if parent.provider_id is None or parent.state not in REMIXABLE:
            return Outcome(controls_words.extend_refused(parent.id), refusal="invalid")
        if seconds not in lengths:
            return Outcome(controls_words.extend_bad_length(str(seconds), lengths), refusal="invalid")
        return await self._continue(who, parent, kind="extend", prompt=prompt, seconds=seconds,
                                    reply_to_message_id=reply_to_message_id)

    # --- steps ---------------------------------------------------------------------------------------
    def _validate(self, request: CreateVideo, image: bytes | None, catalog: Catalog,
                  caps: ModelCapabilities | None) -> CreateVideo:
        """The model's own lists bound the request (for the built-in profile: SORA_ALLOWED_*)."""
        s = self.settings
        if image is not None:
            validate_image(image, max_image_bytes=s.sora_max_image_bytes)
        if caps is None and not catalog.builtin:  # a listed catalog can be long: name a bounded few
            raise errors.InvalidRequest("request refused before sending: model_unavailable", code="model_unavailable",
                                        user_message=texts.unknown_model(request.model, catalog.ids))
        checked = validate_request(request, allowed_models=catalog.ids, allowed_sizes=caps.sizes if caps else None,
                                   allowed_seconds=caps.durations if caps else None,
                                   max_prompt_chars=s.sora_max_prompt_chars, max_image_bytes=s.sora_max_image_bytes)
        if image is not None and caps is not None and not caps.first_frame:
            raise errors.InvalidRequest("request refused before sending: frame_unsupported", code="frame_unsupported",
                                        user_message=texts.refused_first_frame(caps.name))
        return checked

    async def _gate(self, who: Requester) -> str | None:
        if who.guild_id is None:
            return None
        if await self.ctx.repo.is_blocked(who.guild_id, who.user_id):
            return i18n.tr("gate.blocked")
        channels = await self.quota.channels(who.guild_id)
        if channels and who.channel_id not in channels and not who.bypass:
            return i18n.tr("gate.channel", where=texts.channel_mentions(channels[:10]))
        return None

    async def _quota_precheck(self, who: Requester, request: quota.Request) -> Outcome | None:
        """The quota decision on the current usage, without writing anything; None when allowed."""
        limits = await self.limits_for(who)
        now = datetime.fromtimestamp(self.ctx.clock(), UTC)
        decision = quota.decide(request, limits, await self.usage(who), now,
                                prices=await self.quota.prices_for(who.guild_id, request.model),
                                bypass=who.bypass, bot_budget=self.settings.bot_usd_per_month)
        if decision.allowed:
            return None
        if decision.reason is not None:
            self.ctx.metrics.quota_refused(decision.reason.value)
        return Outcome(decision.message, refusal=decision.reason.value if decision.reason else "quota")

    def _store_image(self, data: bytes, mime: str) -> str:
        folder = self.ctx.config.data_dir / "inputs"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = media_types.extension_for(mime, default=media_types.JPEG.extension)
        path = folder / f"{secrets.token_hex(8)}{suffix}"
        path.write_bytes(data)
        return str(path)

    async def _create(self, who: Requester, new: NewJob) -> Outcome:
        limits = await self.limits_for(who)
        new = dataclasses.replace(new, user_cap=None if who.bypass else limits.user_concurrent,
                                  locale=await self.public_locale(who.guild_id, who.guild_locale))
        prices = await self.quota.prices_for(who.guild_id, new.model)
        request = quota.Request(new.model, new.size, new.seconds)
        now_ts = self.ctx.clock()
        now = datetime.fromtimestamp(now_ts, UTC)
        try:
            cost = pricing.price(new.model, new.size, new.seconds, prices)
        except pricing.UnknownPrice:
            cost = Decimal(0)  # unpriced: `decide` refuses it where the guild has a budget
        job, decision = await self.ctx.repo.create_job(
            new,
            decide=lambda rows: quota.decide(request, limits, usage_from_rows(rows), now, prices=prices,
                                             bypass=who.bypass, bot_budget=self.settings.bot_usd_per_month),
            allowed=lambda d: d.allowed,
            reserve_seconds=float(new.seconds), reserve_usd=float(cost),
            month_start=quota.month_start(now).timestamp(), bot_wide=self.settings.bot_usd_per_month is not None)
        if job is None:
            if decision.reason is not None:
                self.ctx.metrics.quota_refused(decision.reason.value)
            if new.image_path:
                Path(new.image_path).unlink(missing_ok=True)
            return Outcome(decision.message, refusal=decision.reason.value if decision.reason else "quota")
        if decision.bypassed:
            log.info("limits bypassed: %s", ",".join(r.value for r in decision.bypassed),
                     extra=job.log_extra())
        log.info("job accepted: %s %s %ss", job.model, job.size, job.seconds, extra=job.log_extra())
        eta = await self.ctx.expected_seconds(job)
        await publish_progress(self.ctx, job, force=True)
        await self.ctx.outbox.flushed(job)  # the status message exists before the member is told
        self.poller.wake()
        text = accepted_text(job_view(job), eta_seconds=eta, cost=cost if cost else None)
        if decision.message:
            text += "\n" + decision.message
        if await self.ctx.repo.submission_pause(self.ctx.provider.name) is not None:
            text += "\n" + credit_paused_line()
        return Outcome(text, job=job)


def _key() -> str:
    return "sora-bot-" + secrets.token_hex(12)
