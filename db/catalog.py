"""SQL of the model catalog and of a server's default model, mixed into `Repository` (it shares the
repository's connection, lock and transactions)."""

from __future__ import annotations

import json
from typing import Any

from db.mixin import RepositoryParts


class CatalogQueries(RepositoryParts):
    """Needs `_one`, `_tx`, `_audit` and `clock` from Repository."""

    async def save_model_catalog(self, provider: str, records: list[dict[str, Any]], fetched_at: float) -> None:
        """Replace the stored catalog of `provider` (callers store only good, non-empty ones)."""
        async with self._tx() as conn:
            await conn.execute(
                """INSERT INTO model_catalog (provider, records, fetched_at) VALUES (?,?,?)
                   ON CONFLICT(provider) DO UPDATE SET records=excluded.records, fetched_at=excluded.fetched_at""",
                (provider, json.dumps(records, separators=(",", ":")), fetched_at))

    async def stored_model_catalog(self, provider: str) -> tuple[list[Any], float] | None:
        """(records, fetched_at) of the last stored catalog, or None (also when the row is unreadable)."""
        row = await self._one("SELECT records, fetched_at FROM model_catalog WHERE provider=?",
                              (provider,))
        if row is None:
            return None
        try:
            records = json.loads(row["records"])
        except (TypeError, ValueError):
            return None
        return (records, float(row["fetched_at"])) if isinstance(records, list) else None

    async def guild_default_model(self, guild_id: int) -> str | None:
        row = await self._one("SELECT default_model FROM guild_settings WHERE guild_id=?",
                              (guild_id,))
        return None if row is None else row["default_model"]

    async def set_guild_default_model(self, guild_id: int, model: str | None, *, by: int) -> None:
        """Set (or with None clear) the model /sora uses when a member names none; audited."""
        now = self.clock()
        async with self._tx() as conn:
            await conn.execute(
                """INSERT INTO guild_settings (guild_id, default_model, updated_at, updated_by) VALUES (?,?,?,?)
                   ON CONFLICT(guild_id) DO UPDATE SET default_model=excluded.default_model,
                   updated_at=excluded.updated_at, updated_by=excluded.updated_by""",
                (guild_id, model, now, by))
            await self._audit(conn, guild_id, by, "default_model.set", model or "default", now)
