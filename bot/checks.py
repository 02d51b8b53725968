"""What a `doctor` check reports (bot/doctor.py runs them; bot/webhooks/checks.py adds the webhook
ones), in its own small module so both import it and neither imports the other for it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit


class Status(StrEnum):
    OK = "✓"
    WARN = "!"
    FAIL = "✗"
    SKIP = "–"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None


def display_url(url: str | None) -> str:
    """The URL without any user:password part, for printing."""
    if not url:
        return "(none)"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
