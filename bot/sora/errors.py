"""Typed errors of the provider layer. Each carries what an operator needs (HTTP status, the
provider's error code, the request id) and, through `user_message`, words a member can read.

No error text ever contains the API key: messages are built from the provider's response only.
"""

from __future__ import annotations


class SoraError(Exception):
    """Base of every provider-layer error."""

    user_message = "The video service had a problem. Please try again in a few minutes."

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        user_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        if user_message is not None:
            self.user_message = user_message

    def __str__(self) -> str:
        parts = [self.message]
        if self.status_code is not None:
            parts.append(f"status={self.status_code}")
        if self.code:
            parts.append(f"code={self.code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)


class InvalidRequest(SoraError):
    """Our own check (or the provider's 400) refused the input; `user_message` says what to change.

    Raised before anything is sent when our checks catch it."""

    user_message = "That request isn't valid."


class ContentPolicyRejected(InvalidRequest):
    user_message = "The video service refused this prompt under its content policy."


class ContinuationUnsupported(InvalidRequest):
    """The model cannot continue (remix) a finished video; nothing was charged."""

    user_message = ("This video's model can't continue or remix an existing video. "
                    "Try a new /sora prompt instead.")


class InsufficientCredits(SoraError):
    """402: the bot's account at the provider has run out of credit. The job was not taken; it waits."""

    user_message = ("This server's video credit has run out, so new videos are paused until the bot's "
                    "owner adds more. Your request is kept and nothing was charged.")


class AuthenticationFailed(SoraError):
    user_message = "The bot's video service key was refused. Please tell a server admin."


class NotFound(SoraError):
    user_message = "The video service no longer knows this video."


class RateLimited(SoraError):
    """429 after the retries were spent; `retry_after` in seconds when the provider said."""

    user_message = "The video service is busy right now. Please try again in a minute."

    def __init__(self, message: str, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ProviderUnavailable(SoraError):
    """5xx, timeouts or connection failures after the retries were spent."""

    user_message = "The video service is unavailable right now. Please try again later."


class UnknownOutcome(SoraError):
    """A create (or remix) may or may not have reached the provider: never resend it blindly.

    The engine reconciles (list upstream videos) instead of submitting again."""

    user_message = "We lost contact with the video service while submitting; checking what happened."


class OperationUnsupported(SoraError):
    """The dialect has no such endpoint (list, delete, a download variant...)."""

    user_message = "This video service doesn't support that."


class RemixUnsupported(OperationUnsupported):
    user_message = "This server's video service doesn't support remixing. Try a new /sora prompt instead."


class DownloadExpired(SoraError):
    """The finished video can no longer be fetched (URL expired, content gone)."""

    user_message = "The finished video expired at the provider before it could be fetched."


class DownloadFailed(SoraError):
    """The download broke off or the bytes were not what was promised (truncated, empty)."""


class FfmpegMissing(SoraError):
    user_message = "The bot can't make videos: ffmpeg is missing. Please tell a server admin."
