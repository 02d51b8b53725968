"""Command names, descriptions and choices in each member's client language, through discord.py's
`app_commands.Translator` (`bot.tree.set_translator(CatalogTranslator())`).

discord.py asks for every string of every command when it syncs; we answer from the same
catalogues as every other text (bot/i18n.py). The message id is the `locale_str`'s `id=` extra when
the code gives one (choices, the context menu), else derived from where the string sits:

- `cmd.<command path>.name` / `.description` for commands and groups, e.g. `cmd.sora-admin.language.name`;
- `cmd.<command path>.<parameter>.name` / `.description` for options, e.g. `cmd.sora.prompt.description`.

A string with no message in a catalogue is sent without a localization (Discord shows the English).
Localized command and option names must follow Discord's rule (lowercase, `^[-_\\p{L}\\p{N}…]{1,32}$`);
tests/test_i18n_commands.py checks every one.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot import i18n

log = logging.getLogger(__name__)


def _path(command: object) -> str | None:
    name = getattr(command, "qualified_name", None)
    return name.replace(" ", ".") if name else None


def message_id(string: app_commands.locale_str, context: app_commands.TranslationContext) -> str | None:
    """The catalogue id for a command string (see the module docstring), or None."""
    explicit = string.extras.get("id")
    if explicit:
        return str(explicit)
    where, data = context.location, context.data
    if where in (Where.command_name, Where.group_name):
        path = _path(data)
        return f"cmd.{path}.name" if path else None
    if where in (Where.command_description, Where.group_description):
        path = _path(data)
        return f"cmd.{path}.description" if path else None
    if where in (Where.parameter_name, Where.parameter_description):
        path = _path(getattr(data, "command", None))
        kind = "name" if where is Where.parameter_name else "description"
        return f"cmd.{path}.{data.name}.{kind}" if path else None
    return None


class CatalogTranslator(app_commands.Translator):
    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContext) -> str | None:
        ours = i18n.normalize(locale)
        if ours == i18n.DEFAULT:
            return None  # English is the commands' own text; other locales we have no catalogue for
        msgid = message_id(string, context)
        if msgid is None:
            return None
        text = i18n.lookup(msgid, ours)
        params = {k: v for k, v in string.extras.items() if k != "id"}
        return text.format(**params) if text and params else text
