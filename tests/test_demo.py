"""`python -m bot demo` runs the real bot against the loopback Discord and the simulated provider."""

from __future__ import annotations

import io
from pathlib import Path

from bot.demo import demo
from bot.media import probe
from tests.e2e.product import product_settings


async def test_demo_shows_the_whole_flow_and_makes_three_videos(tmp_path):
    out = io.StringIO()
    settings = product_settings(tmp_path, DISCORD_TOKEN="", SORA_PROVIDER="openai")  # no token, no key
    assert await demo(settings, out=out, render_seconds=1.0) == 0
    text = out.getvalue()
    assert "/sora prompt:" in text and "accepted" in text and "(only you can see this)" in text
    assert "your video is ready!" in text and "remix of `1`" in text and "📎 sora-2.mp4" in text
    paths = [Path(line.strip()) for line in text.splitlines() if line.strip().endswith(".mp4")]
    assert "[ Extend ]" in text and "extension of `1`" in text
    assert len(paths) == 3
    durations = []
    for path in paths:
        info = await probe(path)
        assert (info.width, info.height) == (1280, 720)
        durations.append(info.duration)
    assert abs(durations[2] - 8) < 0.6  # the 4 s video, then 4 s more
