"""Helpers for end-to-end tests of the product through the fake Discord (the settings of such a world
are `bot.sandbox.product.product_settings`)."""

from __future__ import annotations

from bot.sandbox.fake_discord import StoredMessage


def is_result(message: StoredMessage, job_id: int | None = None) -> bool:
    wanted = f"sora:remix:{job_id}" if job_id is not None else "sora:remix:"
    return bool(message.attachments) and any(c.startswith(wanted) for c in message.custom_ids)


def job_id_of(text: str) -> int:
    import re

    match = re.search(r"`(\d+)`", text)
    assert match, text
    return int(match.group(1))
