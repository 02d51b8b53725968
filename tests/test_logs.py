"""Logging: one line per event (key=value or JSON), job fields on job lines, secrets scrubbed."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.logs import JsonFormatter, KeyValueFormatter, SecretFilter, scrub

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789"  # a bot token's shape


def capture(formatter: logging.Formatter, secrets=()) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(SecretFilter(secrets))
    logger = logging.getLogger(f"test.logs.{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_key_value_line_carries_job_fields():
    logger, stream = capture(KeyValueFormatter())
    logger.info("downloaded %d bytes", 1234, extra={"job": 42, "guild": 7, "user": 9})
    [line] = stream.getvalue().splitlines()
    assert "level=info" in line and "job=42 guild=7 user=9" in line and 'msg="downloaded 1234 bytes"' in line


def test_json_lines_parse_and_keep_fields():
    logger, stream = capture(JsonFormatter())
    logger.warning("retrying", extra={"job": 5, "guild": None, "user": 3})
    record = json.loads(stream.getvalue())
    assert record["msg"] == "retrying" and record["job"] == 5 and record["user"] == 3 and "guild" not in record


@pytest.mark.parametrize("fmt", [KeyValueFormatter(), JsonFormatter()])
def test_secrets_never_reach_the_log_even_in_tracebacks(fmt):
    logger, stream = capture(fmt, secrets=["sk-live-provider-key-123"])
    logger.info("calling with key sk-live-provider-key-123 and Bearer abc.def")
    try:
        raise RuntimeError(f"token {TOKEN} refused")
    except RuntimeError:
        logger.exception("login failed")
    text = stream.getvalue()
    assert "sk-live-provider-key-123" not in text and TOKEN not in text and "abc.def" not in text
    assert "***" in text and "login failed" in text and "RuntimeError" in text


def test_scrub_shapes():
    assert scrub(f"x {TOKEN} y") == "x *** y"
    assert scrub("Authorization: Bearer sekrit") == "Authorization: Bearer ***"
    assert scrub("plain words stay") == "plain words stay"
