"""The capability catalog: parsing OpenRouter's `/videos/models` records (the 24-model snapshot of
specs/OPENROUTER.md A.4, as read from TanStack's synced copy, in tests/fixtures/), per-second prices
from the `duration_seconds*` SKU families, the built-in profile, and tolerance of junk."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

import pytest

from bot.catalog import ModelCapabilities, parse_model, parse_models
from bot.catalog.builtin import builtin_records
from bot.settings import Settings

FIXTURE = Path(__file__).parent / "fixtures" / "openrouter_video_models.json"


@pytest.fixture(scope="module")
def snapshot() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def models(snapshot) -> dict[str, ModelCapabilities]:
    return {m.id: m for m in parse_models(snapshot)}


def test_the_snapshot_has_24_records_and_every_model_a_member_can_ask_for_is_parsed(snapshot, models):
    assert len(snapshot["data"]) == 24
    # runway/aleph-2 and the upscaler list no durations and no shapes: nothing a member could pick
    assert set(models) == {r["id"] for r in snapshot["data"]} - {"runway/aleph-2",
                                                                   "black-forest-labs/flux-video-upscale"}
    assert next(iter(models)) == "alibaba/happyhorse-1.0"  # the provider's order is kept


def test_veo_3_1_as_the_spec_describes_it(models):
    veo = models["google/veo-3.1"]
    assert veo.name == "Google: Veo 3.1"
    assert veo.durations == (4, 6, 8)
    assert set(veo.sizes) == {"1280x720", "1080x1920", "1920x1080", "720x1280", "3840x2160", "2160x3840"}
    assert veo.resolutions == ("720p", "1080p", "4K") and veo.aspect_ratios == ("16:9", "9:16")
    assert veo.first_frame and veo.last_frame and veo.audio is True and veo.seed is True


def test_durations_are_sorted_and_sizes_are_the_union_of_sizes_and_resolution_by_aspect(models):
    assert models["google/veo-3.1-lite"].durations == (4, 6, 8)  # the record says [8, 4, 6]
    hailuo = models["minimax/hailuo-3"]  # no size list: 2K x six aspect ratios
    assert set(hailuo.sizes) == {"3360x1440", "2560x1440", "1920x1440", "1440x1440", "1440x1920", "1440x2560"}
    seedance = models["bytedance/seedance-2.5"]
    assert "752x560" in seedance.sizes and "752x560" in seedance.listed_sizes  # listed only as a size
    assert "640x480" in seedance.sizes and "640x480" not in seedance.listed_sizes  # only as 480p x 4:3
    assert hailuo.listed_sizes == ()
    assert len(seedance.sizes) == len(set(seedance.sizes))


def test_frames_audio_and_seed_flags(models):
    sora = models["openai/sora-2-pro"]
    assert not sora.first_frame and not sora.last_frame and sora.seed is False
    wan = models["alibaba/wan-2.6"]
    assert wan.first_frame and not wan.last_frame
    grok = models["x-ai/grok-imagine-video"]
    assert grok.audio is None and grok.seed is None and grok.durations == tuple(range(1, 16))


@pytest.mark.parametrize(("model", "size", "audio", "expected"), [
    ("google/veo-3.1", "1280x720", None, "0.40"),        # audio by default: the model has audio
    ("google/veo-3.1", "1920x1080", None, "0.40"),
    ("google/veo-3.1", "3840x2160", None, "0.60"),       # the _4k SKU
    ("google/veo-3.1", "1280x720", False, "0.20"),
    ("google/veo-3.1", "2160x3840", False, "0.40"),
    ("google/veo-3.1-fast", "1280x720", None, "0.10"),   # _with_audio_720p before _with_audio
    ("google/veo-3.1-fast", "1920x1080", None, "0.12"),
    ("openai/sora-2-pro", "1280x720", None, "0.30"),     # duration_seconds_720p
    ("openai/sora-2-pro", "1080x1920", None, "0.50"),
    ("alibaba/happyhorse-1.0", "1920x1080", None, "0.1694"),
    ("alibaba/wan-2.7", "720x720", None, "0.1"),         # plain duration_seconds
    ("kwaivgi/kling-v3.0-pro", "1280x720", None, "0.168"),
    ("kwaivgi/kling-v3.0-pro", "1280x720", False, "0.112"),
    ("alibaba/wan-2.6", "1280x720", None, "0.08"),       # text_to_video_duration_seconds_720p
    ("minimax/hailuo-3", "2560x1440", None, "0.13"),
])
def test_price_per_second_from_the_duration_seconds_families(models, model, size, audio, expected):
    assert models[model].price_per_second(size, audio=audio) == Decimal(expected)


def test_image_to_video_prices_and_families_that_are_not_per_second_usd(models):
    assert models["alibaba/wan-2.6"].price_per_second("1920x1080", image=True) == Decimal("0.15")
    # tokens (Seedance), cents (FLUX, Runway, Grok): no estimate here, the caller falls back
    for model in ("bytedance/seedance-2.0", "black-forest-labs/flux-3-video", "runway/gen-4.5",
                  "x-ai/grok-imagine-video"):
        assert models[model].price_per_second(models[model].sizes[0]) is None, model


def test_a_stored_record_parses_back_to_the_same_capabilities(models):
    for model in models.values():
        assert parse_model(json.loads(json.dumps(model.to_record()))) == model


def test_the_builtin_profile_is_what_the_settings_offer():
    settings = Settings(_env_file=None)
    found = parse_models(builtin_records(settings))
    assert [m.id for m in found] == ["sora-2", "sora-2-pro"]
    for model in found:
        assert list(model.sizes) == settings.sora_allowed_sizes
        assert model.durations == (4, 8, 12)
        assert model.first_frame and not model.last_frame
        assert model.price_per_second("1280x720") is None  # priced by PRICE_PER_SECOND


def test_bounds_on_untrusted_records():
    long_name = {"id": "a/b", "name": "N" * 500, "supported_durations": list(range(1, 10_000)),
                 "supported_sizes": ["1280x720"] * 1000 + ["99999x1"], "pricing_skus": {"duration_seconds": "1e9"}}
    model = parse_model(long_name)
    assert model is not None and model.name == "a/b"  # an oversized name falls back to the id
    assert len(model.durations) <= 64 and max(model.durations) <= 600
    assert model.sizes == ("1280x720",)
    assert model.price_per_second("1280x720") is None  # a billion dollars a second is junk
    assert parse_model({"id": "x" * 101, "supported_durations": [4], "supported_sizes": ["1x1"]}) is None
    assert parse_model({"id": "bad id\n", "supported_durations": [4], "supported_sizes": ["1x1"]}) is None
    many = [{"id": f"m/{i}", "supported_durations": [4], "supported_sizes": ["1280x720"]} for i in range(1000)]
    assert len(parse_models(many)) == 200


def test_duplicates_bools_and_floats_are_not_durations():
    record = {"id": "m", "supported_durations": [True, 4.0, 4, 5.5, float("nan"), float("inf"), -3, "8", 0, 8],
              "supported_sizes": ["1280X720", " 720 x 1280 ", "0x5", "axb"],
              "supported_frame_images": ["first_frame", "middle_frame", 7], "generate_audio": "yes"}
    model = parse_model(record)
    assert model.durations == (4, 8)
    assert model.sizes == ("1280x720", "720x1280")
    assert model.frame_images == ("first_frame",) and model.audio is None


def _junk(rng: random.Random, depth: int = 0):
    atoms = [None, True, False, 0, -1, 7, 3.5, float("nan"), "", "x", "720p", "16:9", "1280x720",
             "first_frame", "0.40", "duration_seconds", "\x00\x1f", "é" * 300, 10**30]
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(atoms)
    if rng.random() < 0.5:
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(6))]
    keys = ["id", "name", "supported_durations", "supported_sizes", "supported_resolutions",
            "supported_aspect_ratios", "supported_frame_images", "generate_audio", "seed", "pricing_skus",
            "data", "duration_seconds_with_audio", 5, None]
    return {rng.choice(keys): _junk(rng, depth + 1) for _ in range(rng.randrange(8))}


def test_property_junk_never_raises_and_whatever_parses_is_well_formed(snapshot):
    rng = random.Random(20261201)
    real = snapshot["data"]
    for _ in range(3000):
        data = _junk(rng)
        if rng.random() < 0.3:  # real records with one field replaced by junk
            record = dict(rng.choice(real))
            record[rng.choice(list(record))] = _junk(rng)
            data = {"data": [record, _junk(rng)]}
        for model in parse_models(data):
            assert model.id and len(model.id) <= 100 and model.durations and model.sizes
            assert list(model.durations) == sorted(set(model.durations))
            assert all(isinstance(d, int) and 1 <= d <= 600 for d in model.durations)
            assert all("x" in s for s in model.sizes)
            for size in model.sizes[:3]:
                price = model.price_per_second(size)
                assert price is None or Decimal(0) <= price <= Decimal(100)
