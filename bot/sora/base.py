"""The interface every provider implements: the HTTP dialect client and the local `simulated` one."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from bot.sora.models import CreateVideo, Variant, Video


@runtime_checkable
class VideoProvider(Protocol):
    name: str
    supports_remix: bool
    supports_list: bool
    supports_idempotency: bool

    async def create(self, request: CreateVideo, *, idempotency_key: str | None = None) -> Video:
        """Start a render. Never retried in a way that could submit twice: when the outcome is not
        known (timeout after sending, 5xx without an idempotency key) raise `UnknownOutcome`."""

    async def retrieve(self, video_id: str) -> Video: ...

    async def remix(self, video_id: str, prompt: str, *, idempotency_key: str | None = None) -> Video:
        """Raise `RemixUnsupported` where the dialect has none."""

    # Optional (the engine asks with getattr; absent means no extensions): `can_extend(model) -> bool`,
    # `extension_seconds(model) -> tuple[int, ...] | None` (None: the model's durations) and
    # `extend(video_id, prompt, seconds, *, idempotency_key=None) -> Video` (a video whose `seconds` is
    # the stitched total). OpenRouter extends through `create(previous_job_id=…)` instead.

    async def list(self, *, limit: int = 100) -> list[Video]:
        """Most recent first. Raise `OperationUnsupported` where the dialect has none."""

    async def delete(self, video_id: str) -> None: ...

    async def download(self, video: Video, dest: Path, *, variant: Variant = Variant.VIDEO) -> int:
        """Stream the asset to `dest` (never whole in memory) and return its size in bytes.
        Raises `DownloadExpired` when it can no longer be fetched, `DownloadFailed` when truncated."""

    async def aclose(self) -> None: ...


@runtime_checkable
class ModelLister(Protocol):
    """The optional models endpoint some providers have (OpenRouter): `isinstance(p, ModelLister)` asks."""

    async def list_models(self) -> list[dict]: ...


@runtime_checkable
class VideoExtender(Protocol):
    """The optional extension some providers have: `isinstance(p, VideoExtender)` asks."""

    def can_extend(self, model: str) -> bool: ...

    def extension_seconds(self, model: str) -> tuple[int, ...] | None: ...

    async def extend(self, video_id: str, prompt: str, seconds: int, *,
                     idempotency_key: str | None = None) -> Video: ...
