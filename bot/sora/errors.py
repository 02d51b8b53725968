"""Typed errors of the provider layer. Each carries what an operator needs (HTTP status, the
provider's error code, the request id) and, through `user_message`, words a member can read.

No error text ever contains the API key: messages are built from the provider's response only.
"""

from __future__ import annotations

from bot.i18n import tr


class Words:
    """A class's member-facing words, read from the catalogue in the reader's language when accessed
    (`SomeError.user_message` or `exc.user_message`); an instance's own `user_message=` wins."""

    def __init__(self, msgid: str) -> None:
        self.msgid = msgid

    def __get__(self, obj: object, owner: type | None = None) -> str:
        return tr(self.msgid)


class SoraError(Exception):
    """Base of every provider-layer error."""

    user_message = Words("error.provider")

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

    user_message = Words("error.invalid_request")


class ContentPolicyRejected(InvalidRequest):
    user_message = Words("error.content_policy")


class ContinuationUnsupported(InvalidRequest):
    """The model cannot continue (remix) a finished video; nothing was charged."""

    user_message = Words("error.continuation_unsupported")


class InsufficientCredits(SoraError):
    """402: the bot's account at the provider has run out of credit. The job was not taken; it waits."""

    user_message = Words("error.insufficient_credits")


class AuthenticationFailed(SoraError):
    user_message = Words("error.authentication")


class NotFound(SoraError):
    user_message = Words("error.not_found")


class RateLimited(SoraError):
    """429 after the retries were spent; `retry_after` in seconds when the provider said."""

    user_message = Words("error.rate_limited")

    def __init__(self, message: str, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ProviderUnavailable(SoraError):
    """5xx, timeouts or connection failures after the retries were spent."""

    user_message = Words("error.unavailable")


class UnknownOutcome(SoraError):
    """A create (or remix) may or may not have reached the provider: never resend it blindly.

    The engine reconciles (list upstream videos) instead of submitting again."""

    user_message = Words("error.unknown_outcome")


class OperationUnsupported(SoraError):
    """The dialect has no such endpoint (list, delete, a download variant...)."""

    user_message = Words("error.operation_unsupported")


class RemixUnsupported(OperationUnsupported):
    user_message = Words("error.remix_unsupported")


class DownloadExpired(SoraError):
    """The finished video can no longer be fetched (URL expired, content gone)."""

    user_message = Words("error.download_expired")


class DownloadFailed(SoraError):
    """The download broke off or the bytes were not what was promised (truncated, empty)."""


class FfmpegMissing(SoraError):
    user_message = Words("error.ffmpeg_missing")
