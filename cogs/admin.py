"""`/sora-admin …` for server managers (default permission: Manage Server): limits, role tiers,
channels, prices, a usage report, blocking members, and the log of changes. Every change is
written with who made it (the admin_log table) and answered privately."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import admin, i18n, quota, texts
from bot.admin import AdminInputError
from bot.catalog import choices
from bot.chart import render_report_chart_async
from bot.engine.service import Requester
from bot.i18n import tr
from bot.texts import admin_only, shorten, usd
from bot.texts_controls import report_chart_name
from cogs.common import guild_id_of, is_manager, sora_bot

log = logging.getLogger(__name__)

# Choice names are translated by bot/commands_i18n.py: the locale_str's `id` is the catalogue's message id.
LIMIT_CHOICES = [app_commands.Choice(name=app_commands.locale_str(label, id=f"field.{field}"), value=field)
                 for field, label in admin.NUMBER_FIELDS.items()]
LIST_CHOICES = [app_commands.Choice(name=app_commands.locale_str(label, id=f"field.{field}"), value=field)
                for field, label in admin.LIST_FIELDS.items()]
LANGUAGE_CHOICES = [app_commands.Choice(name=app_commands.locale_str("server default", id="language.choice_default"),
                                        value="default"),
                    *(app_commands.Choice(name=name, value=code) for code, name in i18n.NAMES.items())]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class AdminGroup(app_commands.Group):
    def __init__(self, bot: commands.Bot) -> None:
        super().__init__(name="sora-admin", description="Sora settings for this server (managers only)")
        self.bot = sora_bot(bot)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Checked by the bot for every subcommand: Discord's default permission can be overridden by
        a server (Integrations), so Manage Server, Administrator or BOT_OWNER_IDS is verified here."""
        perms = interaction.permissions
        if perms.manage_guild or perms.administrator or is_manager(interaction.user, self.bot.settings.bot_owner_ids):
            return True
        command = interaction.command.qualified_name if interaction.command else "sora-admin"
        log.warning("refused /%s to user %s in guild %s: not a manager", command, interaction.user.id,
                    interaction.guild_id, extra={"guild": interaction.guild_id, "user": interaction.user.id})
        raise NotAManager(admin_only())

    async def _reply(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(shorten(text, 2000), ephemeral=True)

    def _allowed(self, field: str) -> list:
        """What the provider offers for an allow-list: the catalog's model ids, sizes or lengths."""
        return self.bot.catalog.current().offered(field)

    @app_commands.command(name="show", description="This server's limits, tiers, channels and prices")
    async def show(self, interaction: discord.Interaction) -> None:
        repo, rules, guild_id = self.bot.repo, self.bot.jobs.quota, guild_id_of(interaction)
        lines = [tr("admin.show_title"), *admin.describe_limits(await rules.guild_limits(guild_id))]
        tiers = await rules.tiers(guild_id)
        lines.append(tr("admin.show_tiers", tiers=tr("list.none") if not tiers else ""))
        lines += [texts.tier_line(role, admin.describe_tier(data)) for role, data in tiers.items()]
        kept = await rules.channels(guild_id)
        channels = texts.channel_mentions(kept) if kept else tr("admin.all_channels")
        lines.append(tr("admin.show_channels", channels=channels))
        default = await repo.guild_default_model(guild_id)
        shown = default or tr("admin.bot_default", model=self.bot.settings.sora_default_model)
        lines.append(tr("admin.show_default_model", model=shown))
        prices = await rules.prices_for(guild_id)
        lines.append(tr("admin.show_prices", prices=texts.price_list(prices)))
        language = await repo.guild_language(guild_id)
        public = await self.bot.jobs.public_locale(guild_id, str(interaction.guild_locale or ""))
        lines.append(tr("admin.show_language", language=i18n.NAMES[public])
                     + ("" if language else " " + tr("admin.language_from_discord")))
        await self._reply(interaction, "\n".join(lines))

    @app_commands.command(name="limit", description="Set one limit (use 'none' for no limit)")
    @app_commands.choices(limit=LIMIT_CHOICES)
    async def limit(self, interaction: discord.Interaction, limit: app_commands.Choice[str], value: str) -> None:
        try:
            parsed = admin.parse_number(limit.value, value)
        except AdminInputError as exc:
            return await self._reply(interaction, str(exc))
        await self._save_limits(interaction, {limit.value: parsed}, f"{limit.value}={parsed}")
        shown = tr("admin.no_limit") if parsed is None else parsed
        await self._reply(interaction, tr("admin.limit_set", label=admin.label(limit.value), value=shown))

    @app_commands.command(name="allow", description="Which models, sizes or durations members may use")
    @app_commands.choices(what=LIST_CHOICES)
    @app_commands.describe(values="Comma-separated, e.g. sora-2,sora-2-pro — or 'all'")
    async def allow(self, interaction: discord.Interaction, what: app_commands.Choice[str], values: str) -> None:
        try:
            parsed = admin.parse_list(what.value, values, self._allowed(what.value))
        except AdminInputError as exc:
            return await self._reply(interaction, str(exc))
        shown = "all" if parsed is None else ",".join(map(str, parsed))
        await self._save_limits(interaction, {what.value: parsed}, f"{what.value}={shown}")
        await self._reply(interaction, tr("admin.allowed_set", label=admin.label(what.value),
                                          value=tr("admin.all") if parsed is None else shown))

    @allow.autocomplete("values")
    async def allow_values(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Complete the last item of the comma-separated list from what the provider offers."""
        what = getattr(interaction.namespace, "what", None)
        field = str(getattr(what, "value", what) or "allowed_models")
        if field not in admin.LIST_FIELDS:
            return []
        offered = self._allowed(field)
        if field == "allowed_models":
            names = {m.id: m.name for m in self.bot.catalog.current().models}
            pairs = choices.complete_list(current, offered)
            return [app_commands.Choice(name=_with_name(value, names), value=value) for _, value in pairs]
        pairs = choices.complete_list(current, offered)
        return [app_commands.Choice(name=label, value=value) for label, value in pairs]

    @app_commands.command(name="default-model", description="The model /sora uses when a member doesn't pick one")
    @app_commands.describe(model="A model id from the list, or 'default' for the bot's default")
    async def default_model(self, interaction: discord.Interaction, model: str) -> None:
        chosen = model.strip()
        catalog = self.bot.catalog.current()
        if chosen.lower() in ("default", "clear", "none", ""):
            await self.bot.repo.set_guild_default_model(guild_id_of(interaction), None, by=interaction.user.id)
            return await self._reply(interaction, texts.default_model_set(None))
        if catalog.get(chosen) is None:
            return await self._reply(interaction, texts.unknown_model(chosen, catalog.ids))
        await self.bot.repo.set_guild_default_model(guild_id_of(interaction), chosen, by=interaction.user.id)
        allowed = (await self.bot.jobs.limits_for(Requester(guild_id_of(interaction), 0, 0))).allowed_models
        note = "" if allowed is None or chosen in allowed else "\n" + texts.default_model_not_allowed(chosen)
        await self._reply(interaction, texts.default_model_set(chosen) + note)

    @default_model.autocomplete("model")
    async def default_model_choices(self, interaction: discord.Interaction,
                                    current: str) -> list[app_commands.Choice[str]]:
        pairs = [(f"{m.name} ({m.id})" if m.name != m.id else m.id, m.id) for m in self.bot.catalog.current().models]
        return [app_commands.Choice(name=label, value=str(value))
                for label, value in choices.filter_choices(pairs, current)]

    async def _save_limits(self, interaction: discord.Interaction, changes: dict, detail: str) -> None:
        await self.bot.jobs.quota.set_limits(guild_id_of(interaction), changes, by=interaction.user.id, detail=detail)

    @app_commands.command(name="tier", description="Give a role its own limit (e.g. sora-2-pro for supporters)")
    @app_commands.choices(setting=LIMIT_CHOICES + LIST_CHOICES)
    @app_commands.describe(value="A number, 'unlimited', or a comma-separated list; 'clear' removes the setting")
    async def tier(self, interaction: discord.Interaction, role: discord.Role,
                   setting: app_commands.Choice[str], value: str) -> None:
        text = value.strip().lower()
        parsed: Any = None
        try:
            if text == admin.UNLIMITED:
                parsed = admin.UNLIMITED
            elif text == "clear":
                pass
            elif setting.value in admin.LIST_FIELDS:
                parsed = admin.parse_list(setting.value, value, self._allowed(setting.value))
            else:
                parsed = admin.parse_number(setting.value, value)
        except AdminInputError as exc:
            return await self._reply(interaction, str(exc))
        data = await self.bot.jobs.quota.set_tier(guild_id_of(interaction), role.id, setting.value, parsed,
                                                  clear=text == "clear", by=interaction.user.id)
        await self._reply(interaction, tr("admin.tier_set", role=role.mention, tier=admin.describe_tier(data)))

    @app_commands.command(name="channels", description="Limit the bot to some channels, or answer everywhere")
    @app_commands.choices(action=[app_commands.Choice(name=app_commands.locale_str(n, id=f"choice.channels.{n}"),
                                                      value=n) for n in ("add", "remove", "everywhere")])
    async def channels(self, interaction: discord.Interaction, action: app_commands.Choice[str],
                       channel: discord.TextChannel | None = None) -> None:
        if action.value != "everywhere" and channel is None:
            return await self._reply(interaction, tr("admin.pick_channel"))
        current = await self.bot.jobs.quota.set_channels(guild_id_of(interaction), action.value,
                                                         channel.id if channel else None, by=interaction.user.id)
        where = texts.channel_mentions(current) if current else tr("admin.every_channel")
        await self._reply(interaction, tr("admin.channels_set", where=where))

    @app_commands.command(name="price", description="Set the USD price per second for a model (or model@size)")
    async def price(self, interaction: discord.Interaction, key: str, usd_per_second: str) -> None:
        model = key.split("@", 1)[0]
        if model not in self.bot.catalog.current().ids:
            return await self._reply(interaction, tr("admin.price_unknown_model", model=texts.safe_user_text(model)))
        try:
            value = admin.parse_number("guild_usd_per_month", usd_per_second)
        except AdminInputError as exc:
            return await self._reply(interaction, str(exc))
        await self.bot.jobs.quota.set_price(guild_id_of(interaction), key, value, by=interaction.user.id)
        shown = tr("admin.price_default") if value is None else "$" + value
        await self._reply(interaction, tr("admin.price_set", key=key, price=shown))

    @app_commands.command(name="report", description="This month's usage: totals, spend estimate, top members")
    async def report(self, interaction: discord.Interaction) -> None:
        now = datetime.fromtimestamp(self.bot.engine_ctx.clock(), UTC)
        since = quota.month_start(now).timestamp()
        rows = await self.bot.repo.guild_report(guild_id_of(interaction), since, limit=10)
        videos = sum(r[1] for r in rows)
        seconds = sum(r[2] for r in rows)
        spend = sum(r[3] for r in rows)
        lines = [tr("admin.report_head", videos=_videos(videos), seconds=f"{seconds:g}", cost=usd(spend))]
        lines += [tr("admin.report_line", rank=i, user=user, videos=_videos(n), seconds=f"{secs:g}", cost=usd(cost))
                  for i, (user, n, secs, cost) in enumerate(rows, start=1)]
        await interaction.response.defer(ephemeral=True, thinking=True)  # the chart takes a moment
        chart = await report_chart(self.bot, interaction.guild, now, since, rows)
        await interaction.followup.send(shorten("\n".join(lines), 2000), file=chart, ephemeral=True)

    @app_commands.command(name="block", description="Stop a member from making videos here")
    async def block(self, interaction: discord.Interaction, member: discord.Member, reason: str = "") -> None:
        await self.bot.repo.set_blocked(guild_id_of(interaction), member.id, True, by=interaction.user.id,
                                        reason=reason)
        await self._reply(interaction, tr("admin.blocked", member=member.mention))

    @app_commands.command(name="unblock", description="Let a blocked member make videos again")
    async def unblock(self, interaction: discord.Interaction, member: discord.Member) -> None:
        await self.bot.repo.set_blocked(guild_id_of(interaction), member.id, False, by=interaction.user.id)
        await self._reply(interaction, tr("admin.unblocked", member=member.mention))

    @app_commands.command(name="log", description="Recent changes to these settings, and who made them")
    async def log(self, interaction: discord.Interaction) -> None:
        rows = await self.bot.repo.admin_log(guild_id_of(interaction), limit=15)
        lines = [tr("admin.log_title")] + [f"<t:{int(r['at'])}:f> <@{r['user_id']}> {r['action']} {r['detail'] or ''}"
                                          for r in rows]
        await self._reply(interaction, "\n".join(lines) if rows else tr("admin.log_empty"))

    @app_commands.command(name="language", description="The language of this server's public messages")
    @app_commands.describe(language="A language, or 'server default' for the server's Discord language")
    @app_commands.choices(language=LANGUAGE_CHOICES)
    async def language(self, interaction: discord.Interaction, language: app_commands.Choice[str]) -> None:
        chosen = None if language.value == "default" else i18n.normalize(language.value)
        await self.bot.repo.set_guild_language(guild_id_of(interaction), chosen, by=interaction.user.id)
        public = await self.bot.jobs.public_locale(guild_id_of(interaction), str(interaction.guild_locale or ""))
        await self._reply(interaction, tr("admin.language_set", language=i18n.NAMES[public])
                          + ("" if chosen else " " + tr("admin.language_from_discord")))


def _with_name(value: str, names: dict[str, str]) -> str:
    """"a,google/veo-3.1" → "a,google/veo-3.1 (Google: Veo 3.1)", within Discord's 100 characters."""
    last = value.rsplit(",", 1)[-1]
    name = names.get(last)
    label = f"{value} ({name})" if name and name != last else value
    return label if len(label) <= choices.MAX_CHOICE_NAME else value


class NotAManager(app_commands.CheckFailure):
    """A member without Manage Server reached /sora-admin (a server overrode its default permission)."""

    member_facing = True  # the error handler answers with this text, privately


async def report_chart(bot, guild: discord.Guild | None, now: datetime, since: float,
                       rows: list[tuple[int, int, float, float]]) -> discord.File:
    """The report's PNG: videos and spend per day this month, top members by spend (in a thread)."""
    days = await bot.repo.daily_usage(guild.id if guild else 0, since)

    def name(user_id: int) -> str:
        member = guild.get_member(user_id) if guild is not None else None
        return member.display_name if member is not None else str(user_id)

    png = await render_report_chart_async(now.date(), days, [(name(user), cost) for user, _, _, cost in rows])
    return discord.File(io.BytesIO(png), filename=report_chart_name())


def _videos(count: int) -> str:
    return i18n.ntr("admin.videos", "admin.videos_plural", count)


class AdminCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.group = AdminGroup(bot)
        bot.tree.add_command(self.group)
        self.bot = bot

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.group.name)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(AdminCog(bot))

