"""What a member may pick from a catalog (pure): allow-lists, defaults, price tables and hints,
autocomplete filtering and comma-separated list completion."""

from __future__ import annotations

from decimal import Decimal

from bot.catalog import choices, parse_models
from bot.catalog.service import Catalog
from bot.quota import Limits
from tests.catalog_doubles import snapshot_records

MODELS = {m.id: m for m in parse_models(snapshot_records())}
VEO = MODELS["google/veo-3.1"]
WAN = MODELS["alibaba/wan-2.6"]


def test_allow_lists_narrow_models_sizes_and_seconds():
    limits = Limits(allowed_models=frozenset({"google/veo-3.1", "alibaba/wan-2.6"}),
                    allowed_sizes=frozenset({"1280x720", "3840x2160"}), allowed_seconds=frozenset({4, 8, 10}),
                    max_seconds=8)
    assert [m.id for m in choices.allowed_models(MODELS.values(), limits)] == ["alibaba/wan-2.6", "google/veo-3.1"]
    assert choices.offered_sizes(VEO, limits) == ["1280x720", "3840x2160"]
    assert choices.offered_seconds(VEO, limits) == [4, 8]
    # nothing of the model left by the lists: the model's own values (the quota check words the refusal)
    assert choices.offered_seconds(WAN, limits) == [5, 10]
    assert choices.offered_sizes(VEO, Limits()) == list(VEO.sizes)


def test_pick_prefers_the_setting_when_the_model_takes_it():
    assert choices.pick(4, (4, 6, 8)) == 4
    assert choices.pick(4, (5, 10)) == 5
    assert choices.pick("1280x720", ()) is None


def test_prices_from_the_catalog_then_the_settings_and_a_server_price_wins():
    settings_table = {"sora-2": "0.10", "*": "0.05"}
    catalog = choices.catalog_prices(VEO)
    assert catalog["google/veo-3.1@1280x720"] == "0.40" and catalog["google/veo-3.1@3840x2160"] == "0.60"
    merged = choices.merge_prices(settings_table, catalog, None, VEO.id)
    assert merged["google/veo-3.1@3840x2160"] == "0.60" and merged["sora-2"] == "0.10"
    guild = {"google/veo-3.1": "0.33"}
    merged = choices.merge_prices(settings_table, catalog, guild, VEO.id)
    assert "google/veo-3.1@1280x720" not in merged and merged["google/veo-3.1"] == "0.33"
    seedance = MODELS["bytedance/seedance-2.0"]  # priced in tokens: PRICE_PER_SECOND's "*" applies
    assert choices.price_per_second(seedance, "1280x720", settings_table) == Decimal("0.05")
    assert choices.price_per_second(seedance, "1280x720", {}) is None
    assert choices.price_per_second(VEO, "1280x720", settings_table) == Decimal("0.40")


def test_model_labels_carry_a_price_hint_within_100_characters():
    assert choices.model_label(VEO, Decimal("0.40")) == "Google: Veo 3.1 · ~$0.40/s"
    assert choices.model_label(VEO, None) == "Google: Veo 3.1"
    assert choices.model_label(VEO, Decimal("0.005")) == "Google: Veo 3.1 · ~$0.005/s"


def test_filter_choices_matches_label_or_value_and_caps_at_25():
    pairs = [(m.name, m.id) for m in MODELS.values()]
    assert [v for _, v in choices.filter_choices(pairs, "veo")] == [
        "google/veo-3.1", "google/veo-3.1-fast", "google/veo-3.1-lite"]
    assert [v for _, v in choices.filter_choices(pairs, "GOOGLE: veo 3.1 l")] == ["google/veo-3.1-lite"]
    assert len(choices.filter_choices([(str(i), i) for i in range(40)], "")) == 25


def test_complete_list_completes_the_last_item_only():
    offered = ["google/veo-3.1", "google/veo-3.1-fast", "alibaba/wan-2.6"]
    assert choices.complete_list("", offered) == [(v, v) for v in offered]
    assert [v for v, _ in choices.complete_list("alibaba/wan-2.6, veo", offered)] == [
        "alibaba/wan-2.6,google/veo-3.1", "alibaba/wan-2.6,google/veo-3.1-fast"]
    assert [v for v, _ in choices.complete_list("google/veo-3.1,", offered)] == [
        "google/veo-3.1,google/veo-3.1-fast", "google/veo-3.1,alibaba/wan-2.6"]
    long = ",".join(["x" * 30] * 3)
    assert choices.complete_list(long + ",", offered) == []  # over Discord's 100 characters


def test_catalog_offers_union_of_sizes_and_sorted_seconds():
    catalog = Catalog("openrouter", (VEO, WAN), "live")
    assert catalog.offered("allowed_models") == ["google/veo-3.1", "alibaba/wan-2.6"]
    assert catalog.offered("allowed_seconds") == [4, 5, 6, 8, 10]
    assert set(catalog.offered("allowed_sizes")) == set(VEO.sizes) | set(WAN.sizes)
    assert catalog.get("nope") is None and catalog.get(None) is None


def test_price_hint_agrees_with_the_merged_table_for_every_model_and_size():
    settings_table = {"*": "0.05", "alibaba/wan-2.7": "0.99"}
    for guild in (None, {"google/veo-3.1@1280x720": "0.21"}, {"alibaba/wan-2.6": "0.5"}):
        for caps in MODELS.values():
            merged = choices.merge_prices(settings_table, choices.catalog_prices(caps), guild, caps.id)
            for size in caps.sizes:
                hint = choices.price_hint(caps, size, {**settings_table, **(guild or {})}, guild)
                assert hint == choices.pricing.price_per_second(caps.id, size, merged), (caps.id, size, guild)
