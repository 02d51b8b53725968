"""Short import path for the loopback fake Discord; the implementation is `bot.sandbox.fake_discord`.

    from bot.sandbox.discord_fake import FakeDiscord, Perm, Intent

See `bot/sandbox/fake_discord/__init__.py` for the whole public API.
"""

from bot.sandbox.fake_discord import *  # noqa: F403
from bot.sandbox.fake_discord import __all__  # noqa: F401
