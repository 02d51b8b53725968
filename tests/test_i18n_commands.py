"""Command localisation: the translator's message ids, and Discord's rule for localized names as
the fake Discord enforces it (a sync with a bad localization is refused, like Discord does)."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands

from bot.sandbox.fake_discord.rest import check_command
from bot.sandbox.fake_discord.rules import DiscordError, localized_name_ok
from cogs.translator import CatalogTranslator


@pytest.mark.parametrize("name", ["生成视频", "sora管理", "sora-jobs", "a_b-1", "हिन्दी", "ภาษาไทย", "x" * 32])
def test_good_localized_names(name):
    assert localized_name_ok(name)


@pytest.mark.parametrize("name", ["", "Sora", "with space", "x" * 33, "emoji🎬", "a.b", "Ünïcode"])
def test_bad_localized_names(name):
    assert not localized_name_ok(name)


def test_the_fake_refuses_a_sync_with_a_bad_localization():
    good = {"name": "sora", "description": "Make a short video", "type": 1,
            "name_localizations": {"zh-CN": "生成视频"}, "description_localizations": {"zh-CN": "生成一段短视频"}}
    check_command(good, [0])
    for bad in ({"name_localizations": {"zh-CN": "生成 视频"}}, {"name_localizations": {"xx-YY": "sora"}},
                {"description_localizations": {"zh-CN": "长" * 101}},
                {"options": [{"type": 3, "name": "prompt", "description": "d",
                              "name_localizations": {"zh-CN": "Prompt"}}]}):
        with pytest.raises(DiscordError):
            check_command({**good, **bad}, [0])


def make_tree() -> tuple[app_commands.CommandTree, app_commands.Command]:
    client = discord.Client(intents=discord.Intents.none())
    tree = app_commands.CommandTree(client)

    @tree.command(name="sora", description="Make a short video")
    @app_commands.describe(prompt="Describe the video: subject, action, setting, camera, lighting")
    async def sora(interaction: discord.Interaction, prompt: str) -> None:
        return None

    return tree, sora


async def test_the_translator_answers_chinese_from_the_catalogue_and_nothing_for_other_languages():
    tree, sora = make_tree()
    translator = CatalogTranslator()
    chinese = await sora.get_translated_payload(tree, translator)
    assert chinese["name_localizations"] == {"zh-CN": "生成视频"}
    assert chinese["description_localizations"] == {"zh-CN": "生成一段短视频"}
    [prompt] = chinese["options"]
    assert prompt["name_localizations"] == {"zh-CN": "提示词"}
    assert prompt["description_localizations"] == {"zh-CN": "描述视频：主体、动作、场景、镜头、光线"}
    # a string with an explicit id, and one with parameters
    context = app_commands.TranslationContext(app_commands.TranslationContextLocation.choice_name, None)
    assert await translator.translate(app_commands.locale_str("8 seconds", id="generate.seconds_choice", n=8),
                                      discord.Locale.chinese, context) == "8 秒"
    assert await translator.translate(app_commands.locale_str("x", id="no.such.id"),
                                      discord.Locale.chinese, context) is None
    assert await translator.translate(app_commands.locale_str("x", id="generate.seconds_choice", n=8),
                                      discord.Locale.french, context) is None
