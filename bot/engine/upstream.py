"""The provider layer's closed set of video states mapped into ours: the one place this happens."""

from __future__ import annotations

from bot.domain.jobs import JobState
from bot.sora.models import VideoState


def from_upstream(state: VideoState) -> JobState:
    """Map the provider layer's closed set into ours: the one place this happens."""
    match state:
        case VideoState.QUEUED:
            return JobState.QUEUED
        case VideoState.RUNNING:
            return JobState.RUNNING
        case VideoState.COMPLETED:
            return JobState.COMPLETED
        case VideoState.FAILED:
            return JobState.FAILED
