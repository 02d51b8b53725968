"""A loopback fake Discord (REST + gateway) that the real discord.py 2.7 client logs in to.

Used by the end-to-end tests and by `python -m bot demo`; it never imports pytest. Public API:

Start and wire (127.0.0.1, random port)::

    async with FakeDiscord(token="t", premium_tier=0, interaction_deadline=3.0,
                           token_lifetime=900, privileged_intents=0) as fake:   # starts + wires discord.py
        bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.1)
        async with fake.run_bot(bot):            # login, connect, wait for on_ready; closes the bot on exit
            ...

  `fake.wire()/unwire()` or `discord_py_pointed_at(url)` / `point_discord_py_at(url) -> undo` set
  `discord.http.Route.BASE` and `DiscordWebSocket.DEFAULT_GATEWAY` (another process: call it there with
  `fake.url`). A wrong token: REST 401 (LoginFailure), gateway close 4004. Privileged intents asked in
  IDENTIFY but not in `privileged_intents` (e.g. `Intent.MESSAGE_CONTENT`) close with 4014.

World: `fake.world` (guild id/name/premium_tier, `users`, `roles`, `channels`, `messages`, `files`),
  `fake.bot` (FakeUser), `fake.user("alice"|id)`, `fake.channel("general"|id)`; default members:
  owner, alice, bob, mod (Manager role: Manage Server); channels general, videos. Edits are async and
  announced on the gateway (so they work under a running bot): `await add_member(name, roles=(),
  manager=False)`, `await add_channel(name)`, `await add_role(name, perms)`, `await set_overwrite(
  channel, user|role|id, allow=, deny=)`, `await deny_bot(channel, Perm.ATTACH_FILES)`,
  `await set_premium_tier(n)`: upload limit 10/10/50/100 MiB (`world.upload_limit`).

Member side (all async; `ClientRefused` when the Discord client itself would refuse):
  `h = await fake.slash(user, channel, "sora" | "group sub", {"prompt": "x"}, {"image": b"..." |
  ("cat.png", b"...")}, attachment_size_limit=None)`; `h = await fake.context_menu(user, channel,
  "Remix with Sora", target_message)`; `h = await fake.click(user, message, custom_id)`;
  `h = await fake.submit_modal(user, channel, custom_id | None, {"field": "text"}, opened_by=h)`;
  `choices = await fake.autocomplete(user, channel, "sora-remix", {"video": "ab"}, focused="video")`;
  `msg = await fake.say(user, channel, "text", reply_to=msg, mention_bot=True, attachments={name: bytes})`.
  InteractionHandle: `await h.response()` (first callback, even a rejected one: `.type .status .code`),
  `await h.ack()` (accepted one; `InteractionFailed` once the deadline passed without one),
  `await h.response_type()`, `await h.original(settled=True)`,
  `await h.followup(i)`, `await h.modal()`, `await h.choices()`, `h.failed`, `h.delivered` (a bot was
  connected), `h.record` (callbacks, original_id, followup_ids, payload). As on Discord, the first
  followup after a deferred (type 5) answer replaces the "thinking" message, so it is followup 0 and
  the original at once; modals are read from the bot's type-9 answer (text inputs in rows or labels).

Reading: `fake.messages(channel)` (visible, oldest first), `fake.message(id)`,
  `await fake.wait_for_message(pred, channel=, timeout=)`, `await fake.wait_until(fn, timeout)`.
  StoredMessage: `content, embeds, attachments[.filename .data .size .content_type .url], file(name),
  components, custom_ids, find_component(id), mentions (user ids actually pinged), mention_roles,
  reference_id, flags, ephemeral, loading, author_id, edits, deleted, nonce`.
  Commands as synced: `fake.synced_commands[guild_id | None]`, `fake.command(name, type=1)` (with the
  `name_localizations` / `description_localizations` the bot sent, checked like Discord does).
Languages: `fake.user(name).locale = "zh-CN"` (the member's client: an interaction's `locale`);
  `await fake.set_preferred_locale("zh-CN")` (the server's: GUILD_CREATE/UPDATE and `guild_locale`).

Enforcement (answered like Discord, JSON `{message, code}`): first callback after
  `interaction_deadline` → 404 10062; second callback → 400 40060; webhook call after
  `token_lifetime` → 401 50027; file over the tier limit / the interaction's `attachment_size_limit` →
  413 40005; content > 2000, embed title > 256, description > 4096, total > 6000 → 400 50035; empty
  message → 400 50006; bot lacking Send Messages / Attach Files / Embed Links → 403 50013 (no View →
  50001); nonce + enforce_nonce repeated within `nonce_lifetime` → the original message; edits over
  `edit_rate_limit=(n, per_s)` → 429 without headers; `edit_bucket=(n, per_s)` / `post_bucket=(n, per_s)`:
  per-channel edit / post buckets as Discord runs them (fixed windows, `X-RateLimit-Limit/-Remaining/
  -Reset/-Reset-After/-Bucket` on every answer, 429 + `Retry-After`, `X-RateLimit-Scope: user`, `Via`;
  `fake.rest.edit_bucket.refused` counts the 429s; see ratelimits.py). MESSAGE_CREATE content is
  blank without the message-content intent unless the bot is mentioned (or replied to with a ping).

Faults and records: `fake.inject_fault("POST", r"/channels/\\d+/messages", status=500|429, times=1,
  retry_after=0.05, hang=False, delay=0.0)`; `fake.calls` / `fake.calls_to(method, route_regex,
  status=)` → RestCall(method, path, route, status, code, body, at); `fake.cdn_downloads`;
  `fake.gateway.identifies` (intents per IDENTIFY), `fake.gateway.resumes`, `await fake.drop_gateway()`;
  `fake.advance(seconds)` moves the fake's clock (deadlines, token and nonce lifetimes; discord.py's
  own `Interaction.expires_at` still follows the real clock).

Client behaviour worth knowing: discord.py sleeps 1, 3, 5... s before retrying a 500, so keep injected
500s few; a session the fake does not know (after `gateway.sessions.clear()`) is invalidated and
discord.py waits 5 s before it IDENTIFYs again, while a dropped connection RESUMEs at once.
"""

from bot.sandbox.fake_discord.actors import ClientRefused, InteractionFailed, InteractionHandle
from bot.sandbox.fake_discord.fake import FakeDiscord
from bot.sandbox.fake_discord.rules import DiscordError
from bot.sandbox.fake_discord.server import Fault, RestCall
from bot.sandbox.fake_discord.state import (
    FakeChannel,
    FakeRole,
    FakeUser,
    Intent,
    Perm,
    StoredAttachment,
    StoredMessage,
)
from bot.sandbox.fake_discord.webhooks import CallbackRecord, InteractionRecord
from bot.sandbox.fake_discord.wiring import discord_py_pointed_at, point_discord_py_at

__all__ = [
    "CallbackRecord",
    "ClientRefused",
    "DiscordError",
    "FakeChannel",
    "FakeDiscord",
    "FakeRole",
    "FakeUser",
    "Fault",
    "Intent",
    "InteractionFailed",
    "InteractionHandle",
    "InteractionRecord",
    "Perm",
    "RestCall",
    "StoredAttachment",
    "StoredMessage",
    "discord_py_pointed_at",
    "point_discord_py_at",
]
