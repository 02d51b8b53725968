"""A `VideoProvider` that times every call into the provider-latency histogram, whatever the dialect."""

from __future__ import annotations

from pathlib import Path

from bot.metrics import Metrics
from bot.sora.base import ModelLister, VideoExtender, VideoProvider
from bot.sora.models import CreateVideo, Variant, Video


class MeteredProvider:
    def __init__(self, inner: VideoProvider, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.name = inner.name
        self.supports_remix = inner.supports_remix
        self.supports_list = inner.supports_list
        self.supports_idempotency = inner.supports_idempotency
        # Optional abilities some providers have (OpenRouter): forwarded only where the inner one has
        # them, so `getattr(provider, "list_models", None)` stays the way to ask.
        self.continues_by_create = getattr(inner, "continues_by_create", False)
        if hasattr(inner, "list_models"):
            self.list_models = self._list_models
        if hasattr(inner, "can_continue"):
            self.can_continue = inner.can_continue
        if isinstance(inner, VideoExtender):
            self.can_extend = inner.can_extend
            self.extension_seconds = inner.extension_seconds

    async def _list_models(self) -> list[dict]:
        assert isinstance(self.inner, ModelLister)  # only installed when the inner provider lists models
        with self.metrics.time_provider("list_models"):
            return await self.inner.list_models()

    async def create(self, request: CreateVideo, *, idempotency_key: str | None = None) -> Video:
        with self.metrics.time_provider("create"):
            return await self.inner.create(request, idempotency_key=idempotency_key)

    async def retrieve(self, video_id: str) -> Video:
        with self.metrics.time_provider("retrieve"):
            return await self.inner.retrieve(video_id)

    async def remix(self, video_id: str, prompt: str, *, idempotency_key: str | None = None) -> Video:
        with self.metrics.time_provider("remix"):
            return await self.inner.remix(video_id, prompt, idempotency_key=idempotency_key)

    async def extend(self, video_id: str, prompt: str, seconds: int, *, idempotency_key: str | None = None) -> Video:
        assert isinstance(self.inner, VideoExtender)  # asked only where can_extend said yes
        with self.metrics.time_provider("extend"):
            return await self.inner.extend(video_id, prompt, seconds, idempotency_key=idempotency_key)

    async def list(self, *, limit: int = 100) -> list[Video]:
        with self.metrics.time_provider("list"):
            return await self.inner.list(limit=limit)

    async def delete(self, video_id: str) -> None:
        with self.metrics.time_provider("delete"):
            await self.inner.delete(video_id)

    async def download(self, video: Video, dest: Path, *, variant: Variant = Variant.VIDEO) -> int:
        with self.metrics.time_provider("download"):
            return await self.inner.download(video, dest, variant=variant)

    async def aclose(self) -> None:
        await self.inner.aclose()


_implements: type[VideoProvider] = MeteredProvider  # the type checker proves the class implements the port
