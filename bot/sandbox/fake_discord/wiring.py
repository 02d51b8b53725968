"""Point discord.py 2.7 at a fake Discord: `Route.BASE` for REST, `DEFAULT_GATEWAY` for the websocket.

Both are class attributes read when a request or connection is made, so set them before the client
logs in. `point_discord_py_at` returns a function that restores the previous values; the context
manager `discord_py_pointed_at` does both around a block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route


def point_discord_py_at(base_url: str) -> Callable[[], None]:
    """`base_url` is the fake's root, e.g. `http://127.0.0.1:8123`. Returns the undo function."""
    root = base_url.rstrip("/")
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = f"{root}/api/v10"
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(root.replace("http://", "ws://", 1) + "/gw")

    def restore() -> None:
        Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    return restore


@contextlib.contextmanager
def discord_py_pointed_at(base_url: str) -> Iterator[None]:
    restore = point_discord_py_at(base_url)
    try:
        yield
    finally:
        restore()
