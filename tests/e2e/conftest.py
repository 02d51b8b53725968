"""Fixtures for the loopback fake Discord (bot.sandbox.fake_discord): started, wired, closed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.sandbox.fake_discord import FakeDiscord


@pytest.fixture
async def fake_discord_factory() -> AsyncIterator[Callable[..., Any]]:
    """`fake = await fake_discord_factory(premium_tier=2, ...)`: started and wired; closed at teardown."""
    started: list[FakeDiscord] = []

    async def make(**options: Any) -> FakeDiscord:
        fake = FakeDiscord(**options)
        await fake.start()
        fake.wire()
        started.append(fake)
        return fake

    yield make
    for fake in reversed(started):
        await fake.close()


@pytest.fixture
async def fake_discord(fake_discord_factory: Callable[..., Any]) -> FakeDiscord:
    """A fake Discord with the defaults (tier 0, 3 s deadline, 15 min tokens, no privileged intents)."""
    return await fake_discord_factory()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """The product's usual world: a tier-0 server (10 MiB uploads) with alice, bob and mod."""
    async with FakeDiscord(premium_tier=0) as fake:
        yield fake
