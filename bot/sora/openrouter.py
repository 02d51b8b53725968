"""`OpenRouterProvider`: OpenRouter's video API (specs/OPENROUTER.md) over the shared HTTP client.

It reuses `HttpVideoProvider`'s transport (retries, the never-resend-a-create rule, typed errors,
streamed downloads, the key only on the API's origin) and adds what OpenRouter does differently:

- the create is JSON checked against the model's record from `GET /videos/models` (fetched on first
  need and cached): `size` when the model lists it, else its `resolution` + `aspect_ratio` pair;
  frames as data URLs, `generate_audio`, `seed` where the model takes one, `callback_url`;
- a remix is a create with `previous_job_id` (same model; only models that continue videos);
- polls follow the job's `polling_url` when it is on the API's origin, else `/videos/{id}`;
- downloads use the signed `urls[0]` (no key) or `unsigned_urls[0]` / `/videos/{id}/content?index=0`
  (with the key, on the API's origin only);
- 402 is `InsufficientCredits`, a 403 on create is a content-policy refusal;
- `HTTP-Referer` / `X-OpenRouter-Title` attribution headers on every request to OpenRouter.

There is no list, cancel or delete endpoint and no idempotency key: a create whose answer was lost
is an `UnknownOutcome`, never resent (the engine fails it, refunded, as for xingchaoyiqing).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bot.i18n import tr
from bot.sora import openrouter_wire as wire
from bot.sora.client import _EXPIRED_CONTENT, HttpVideoProvider
from bot.sora.dialects import OPENROUTER, DialectProfile
from bot.sora.errors import (
    AuthenticationFailed,
    ContinuationUnsupported,
    InvalidRequest,
    ProviderUnavailable,
    RateLimited,
    SoraError,
    UnknownOutcome,
)
from bot.sora.models import CreateVideo, Variant, Video
from bot.sora.validate import validate_image

log = logging.getLogger(__name__)

_REMEMBERED_JOBS = 2048  # per-job facts kept in memory (model, polling URL, parent); lost on restart
MODELS_TTL_SECONDS = 3 * 3600.0
_MODELS_RETRY_SECONDS = 60.0  # an unknown model refetches the list at most this often


class OpenRouterProvider(HttpVideoProvider):
    def __init__(self, *, base_url: str, api_key: str, profile: DialectProfile = OPENROUTER,
                 callback_url: str | None = None, referer: str | None = "https://github.com/sora-bot/sora-bot",
                 title: str | None = "sora-bot", continuation_models: Iterable[str] | None = None,
                 models: Iterable[dict[str, Any]] | None = None, clock=time.monotonic, **kwargs: Any) -> None:
        super().__init__(base_url=base_url, api_key=api_key, profile=profile, **kwargs)
        self.supports_remix = True  # through previous_job_id on create
        self.continues_by_create = True  # the engine sends remixes as create(previous_job_id=…)
        self._callback_url = callback_url or None
        self._attribution = {k: v for k, v in (("HTTP-Referer", referer), ("X-OpenRouter-Title", title)) if v}
        self._continuation = frozenset(continuation_models if continuation_models is not None
                                       else wire.CONTINUATION_MODELS)
        self._clock = clock
        self._models: dict[str, dict[str, Any]] | None = None
        self._models_at = float("-inf")
        if models is not None:  # e.g. the records the catalog stored: fresh until MODELS_TTL_SECONDS
            self.seed_models(models)
        self._jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._models_lock = asyncio.Lock()  # concurrent first creates share one fetch of the list

    # --- transport hooks ---------------------------------------------------------------------------

    async def _send(self, method: str, url: str | httpx.URL, **request: Any) -> httpx.Response:
        if self._same_origin(httpx.URL(url)):  # attribution goes to OpenRouter only, like the key
            request["headers"] = {**self._attribution, **request.get("headers", {})}
        return await super()._send(method, url, **request)

    async def _call(self, method: str, path: str, *, replay_safe: bool, creating: bool = False,
                    continuing: bool = False, model: str | None = None, **request: Any) -> httpx.Response:
        url = path if path.startswith(("http://", "https://")) else self._api_url(path)
        response = await self._send(method, url, replay_safe=replay_safe, **request)
        if not response.is_success:
            raise wire.error_for(response.status_code, response.content, response.headers, creating=creating,
                                 continuing=continuing, model=model, secrets=self._secrets)
        return response

    def _remember(self, video_id: str, **facts: Any) -> None:
        entry = self._jobs.setdefault(video_id, {})
        entry.update({k: v for k, v in facts.items() if v is not None})
        self._jobs.move_to_end(video_id)
        while len(self._jobs) > _REMEMBERED_JOBS:
            self._jobs.popitem(last=False)

    def _job_video(self, response: httpx.Response) -> Video:
        video, polling_url = wire.parse_job(wire.parse_json(response.content), profile=self._profile,
                                            headers=response.headers, secrets=self._secrets)
        if polling_url:
            self._remember(video.id, polling_url=polling_url)
        return self._with_known(video)

    def _with_known(self, video: Video) -> Video:
        """The job answer carries no model or parent: fill them in from what this process sent."""
        known = self._jobs.get(video.id, {})
        changes: dict[str, Any] = {k: known[k] for k in ("model", "remixed_from", "seconds", "size")
                                   if k in known and getattr(video, k) is None}
        return video.model_copy(update=changes) if changes else video

    # --- models ------------------------------------------------------------------------------------

    async def list_models(self) -> list[dict[str, Any]]:
        """The raw `data` records of `GET /videos/models`, validated (a bounded list of JSON objects
        with ids); a typed `SoraError` otherwise. Also refreshes the cache `create` encodes with."""
        response = await self._call("GET", "/videos/models", replay_safe=True)
        records = wire.models_records(wire.parse_json(response.content), size=len(response.content))
        self._models = {r["id"]: r for r in records}
        self._models_at = self._clock()
        return records

    def seed_models(self, records: Iterable[dict[str, Any]]) -> None:
        """Use `records` (as `list_models` returns them) as the current models list."""
        checked = wire.models_records({"data": list(records)})
        self._models = {r["id"]: r for r in checked}
        self._models_at = self._clock()

    async def model_record(self, slug: str) -> dict[str, Any] | None:
        """The cached record of model `slug` (fetching the list on first need, when stale, or
        when the model is unknown and the list was not fetched in the last minute)."""
        async with self._models_lock:
            await self._refresh_models_if_needed(slug)
        return (self._models or {}).get(slug)

    async def _refresh_models_if_needed(self, slug: str) -> None:
        age = self._clock() - self._models_at
        if self._models is None or age > MODELS_TTL_SECONDS or (
                slug not in self._models and age > _MODELS_RETRY_SECONDS):
            try:
                await self.list_models()
            except (RateLimited, ProviderUnavailable, AuthenticationFailed, UnknownOutcome):
                if self._models is None:
                    raise
                log.warning("openrouter models list refresh failed; using the cached one")
            except SoraError as exc:
                if self._models is None:
                    raise ProviderUnavailable(f"the openrouter models list could not be read: {exc}",
                                              status_code=exc.status_code) from exc
                log.warning("openrouter models list refresh failed; using the cached one: %s", exc)

    def can_continue(self, model: str) -> bool:
        """Whether videos of `model` (our name) can be continued with `previous_job_id`."""
        return self._profile.provider_model(model) in self._continuation

    def can_extend(self, model: str) -> bool:
        """An extension is a continuation too (a create with `previous_job_id` and the added length):
        the same models, one list (OPENROUTER_CONTINUATION_MODELS)."""
        return self.can_continue(model)

    def extension_seconds(self, model: str) -> tuple[int, ...] | None:
        return None  # the model's own `supported_durations`

    # --- the VideoProvider interface ---------------------------------------------------------------

    async def create(self, request: CreateVideo, *, idempotency_key: str | None = None) -> Video:
        request = self._limits.check(request)  # raises before anything is sent
        if request.last_frame is not None:
            mime = validate_image(request.last_frame, max_image_bytes=self._limits.max_image_bytes)
            request = request.model_copy(update={"last_frame_mime": mime})
        slug = self._profile.provider_model(request.model)
        record = await self.model_record(slug)
        if record is None:
            raise InvalidRequest(f"openrouter does not list the model {slug!r}", code="model_unavailable",
                                 user_message=tr("provider.model_not_offered", model=request.model))
        body = wire.create_body(request, slug, record, callback_url=self._callback_url,
                                continuation_models=self._continuation)
        response = await self._call("POST", self._profile.path("create"), replay_safe=False, creating=True,
                                    continuing=bool(request.previous_job_id), model=record.get("name") or slug,
                                    json=body)
        video = self._job_video(response)
        self._remember(video.id, model=request.model, remixed_from=request.previous_job_id,
                       seconds=float(request.seconds), size=request.size)
        return self._with_known(video)

    def _status_url(self, video_id: str) -> str:
        polling = self._jobs.get(video_id, {}).get("polling_url")
        if polling:
            absolute = self._base_url.join(polling)  # relative polling URLs are on the API's origin
            if self._same_origin(absolute):
                return str(absolute)
            log.warning("ignoring an openrouter polling_url on another host for %s", video_id)
        return self._api_url(self._profile.path("status", video_id))

    async def retrieve(self, video_id: str) -> Video:
        response = await self._call("GET", self._status_url(video_id), replay_safe=True)
        return self._job_video(response)

    async def remix(self, video_id: str, prompt: str, *, idempotency_key: str | None = None,
                    model: str | None = None) -> Video:
        """A continuation of `video_id` (a completed job) with `prompt`, on the same model: the one
        given, else the one this process created it with. (The engine sends its remixes through
        `create(previous_job_id=…)` with the parent's model, size and length instead.)"""
        prompt = self._limits.check_remix_prompt(prompt)
        model = model or self._jobs.get(video_id, {}).get("model")
        if model is None:
            raise InvalidRequest(f"the model of {video_id} is not known", code="model_unknown",
                                 user_message=tr("provider.parent_model_unknown"))
        slug = self._profile.provider_model(model)
        if slug not in self._continuation:
            raise ContinuationUnsupported(f"{slug} does not take previous_job_id", code="continuation_unsupported",
                                          user_message=wire.continuation_refusal(model))
        body: dict[str, Any] = {"model": slug, "prompt": prompt, "previous_job_id": video_id}
        if self._callback_url:
            body["callback_url"] = self._callback_url
        response = await self._call("POST", self._profile.path("create"), replay_safe=False, creating=True,
                                    continuing=True, model=model, json=body)
        video = self._job_video(response)
        parent = self._jobs.get(video_id, {})
        self._remember(video.id, model=model, remixed_from=video_id, seconds=parent.get("seconds"),
                       size=parent.get("size"))
        return self._with_known(video)

    async def _fetch_content(self, video_id: str, dest: Path, variant: Variant) -> int:
        url = self._api_url(self._profile.path("content", video_id))
        return await self._fetch(url, dest, auth=True, expired=_EXPIRED_CONTENT, params={"index": "0"})


if TYPE_CHECKING:  # the type checker proves the class implements the port
    from bot.sora.base import VideoProvider

    _implements: type[VideoProvider] = OpenRouterProvider
