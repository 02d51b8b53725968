"""What the query mixins (db/catalog.py, db/controls.py, db/languages.py) use of the `Repository`
that mixes them in, declared for the type checker; at run time the repository provides it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from db.backend import Row


class RepositoryParts:
    if TYPE_CHECKING:
        clock: Callable[[], float]

        def _tx(self) -> contextlib.AbstractAsyncContextManager[Any]: ...

        async def _one(self, sql: str, args: Sequence[Any] = ()) -> Row | None: ...

        async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]: ...

        @staticmethod
        async def _audit(tx: Any, guild_id: int, by: int, action: str, detail: str, now: float) -> None: ...
