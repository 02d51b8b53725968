"""The normalized model every provider dialect is parsed into, and the request to create a video.

Everything above the provider layer (the job engine, the cogs) sees only these types.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class VideoState(StrEnum):
    """Our closed set of upstream states; each dialect's words are mapped into it in one place."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class Variant(StrEnum):
    VIDEO = "video"
    THUMBNAIL = "thumbnail"
    SPRITESHEET = "spritesheet"


class VideoError(BaseModel):
    """Why an upstream job failed: a code when the provider gives one, and words a member can read."""

    model_config = ConfigDict(frozen=True)

    code: str | None = None
    message: str
    content_policy: bool = False
    # How the job ended upstream: "failed" (a render error), or, where the dialect says so (OpenRouter),
    # "cancelled" (stopped at the provider) or "expired" (it outlived the provider's time to live).
    ending: Literal["failed", "cancelled", "expired"] = "failed"


class Video(BaseModel):
    """One upstream video job, whatever the dialect said."""

    model_config = ConfigDict(frozen=True)

    id: str
    state: VideoState
    progress: int | None = None  # 0-100, or None when the dialect does not report progress
    created_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    model: str | None = None  # our model name (e.g. "sora-2"), mapped back from the dialect's
    size: str | None = None  # "WIDTHxHEIGHT"
    seconds: float | None = None
    prompt: str | None = None
    remixed_from: str | None = None
    error: VideoError | None = None
    download_url: str | None = None  # a direct URL when the dialect gives one (else use /content)
    # Transport hint, not part of the resource: how long the provider asks us to wait before polling.
    poll_after_seconds: float | None = None
    # What the provider really charged for this job, in USD, where it says (OpenRouter's `usage.cost`).
    cost_usd: float | None = Field(default=None, ge=0)

    @property
    def finished(self) -> bool:
        return self.state in (VideoState.COMPLETED, VideoState.FAILED)


class CreateVideo(BaseModel):
    """What a member asked for. Model names are ours; the dialect maps them to the provider's."""

    model_config = ConfigDict(frozen=True)

    prompt: str
    model: str = "sora-2"
    size: str = "1280x720"
    seconds: int = 4
    image: bytes | None = Field(default=None, repr=False)  # first frame, already fitted to `size`
    image_mime: str | None = None  # image/jpeg | image/png | image/webp
    # The fields below are honoured by dialects that have them (OpenRouter); None leaves every other
    # dialect's request exactly as it was.
    generate_audio: bool | None = None  # None: the model's default
    seed: int | None = None  # sent only where the model takes a seed
    last_frame: bytes | None = Field(default=None, repr=False)  # last frame, where the model takes one
    last_frame_mime: str | None = None
    previous_job_id: str | None = None  # continue this completed upstream job (same model)
