"""Logging set-up: one line per event, key=value or JSON, and a filter that scrubs secrets.

Job lines carry `job`, `guild` and `user` through `extra=` (see `Job.log_extra`); the formatter prints
them as fields. Whatever reaches a handler passes `SecretFilter` first, so a token or API key that
slipped into a message or an exception is replaced by `***`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable

_FIELDS = ("job", "guild", "user", "provider_id", "state")
# Discord bot tokens, "Bearer xyz"/"sk-..." and webhook-secret ("whsec_...") shapes, in case a secret we
# don't know of slips through.
_TOKEN_SHAPES = re.compile(
    r"(Bearer\s+)[A-Za-z0-9._\-]+|\bsk-[A-Za-z0-9_\-]{8,}|\bwhsec_[A-Za-z0-9+/=_\-]{8,}|"
    r"\b[A-Za-z0-9_\-]{23,28}\.[A-Za-z0-9_\-]{6,7}\.[A-Za-z0-9_\-]{27,40}\b"
)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _TOKEN_SHAPES.sub(lambda m: (m.group(1) or "") + "***", text)


class SecretFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message, self.secrets)
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = scrub(formatted, self.secrets)
            record.exc_info = None
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
        ]
        for field in _FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                parts.append(f"{field}={value}")
        parts.append(f"msg={json.dumps(record.getMessage(), ensure_ascii=False)}")
        line = " ".join(parts)
        if record.exc_text:
            line += " exc=" + json.dumps(record.exc_text, ensure_ascii=False)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for field in _FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                data[field] = value
        if record.exc_text:
            data["exc"] = record.exc_text
        return json.dumps(data, ensure_ascii=False, default=str)


def setup_logging(level: str = "INFO", fmt: str = "kv", secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(SecretFilter(secrets))
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("discord").setLevel(max(logging.INFO, root.level))
    logging.getLogger("httpx").setLevel(logging.WARNING)
