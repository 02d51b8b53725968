"""Words of the model catalog: one model's summary and /sora-models pages within Discord's limits."""

from __future__ import annotations

from decimal import Decimal

from bot import texts


def summary(name: str = "Google: Veo 3.1", **more) -> str:
    values = {"seconds": [4, 6, 8], "sizes": ["1280×720 (16:9 · 720p)"], "audio": True, "first_frame": True,
              "last_frame": True, "usd_per_second": Decimal("0.40")}
    values.update(more)
    return texts.model_summary(name, "google/veo-3.1", **values)


def test_a_model_summary_names_price_lengths_shapes_frames_and_audio():
    assert summary() == ("**Google: Veo 3.1** (`google/veo-3.1`) — about $0.40/s\n"
                         "  4, 6, 8 s · 1280×720 (16:9 · 720p) · first and last frame · audio")
    text = summary(seconds=[*range(3, 16), 20], sizes=[f"s{i}" for i in range(12)], audio=None,
                   last_frame=False, usd_per_second=None, default=True)
    assert "3–15, 20 s" in text and "s7 +4 more" in text and "s8" not in text
    assert "· default — price not listed" in text and "first frame · audio unknown" in text
    assert "no image" in summary(first_frame=False, last_frame=False)


def test_a_name_cannot_ping_or_fake_formatting():
    text = summary("@everyone **x**")
    assert "@everyone" not in text.replace("@\u200beveryone", "")


def test_pages_fit_discord_and_say_what_was_left_out():
    entries = [summary(f"Model {i} " + "x" * 150) for i in range(60)]
    pages = texts.models_pages(entries, max_pages=3)
    assert len(pages) == 3
    assert all(texts.discord_len(p) <= 2000 for p in pages)
    shown = sum(p.count("**Model ") for p in pages)
    assert f"… and {60 - shown} more not shown" in pages[-1]
    assert len(texts.models_pages(entries[:3])) == 1
    assert "No model is enabled" in texts.models_pages([])[0]
