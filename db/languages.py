"""SQL of a server's language for public messages, mixed into `Repository` (it shares the
repository's connection, lock and transactions)."""

from __future__ import annotations

from db.mixin import RepositoryParts


class LanguageQueries(RepositoryParts):
    """Needs `_one`, `_tx`, `_audit` and `clock` from Repository."""

    async def guild_language(self, guild_id: int) -> str | None:
        """The language /sora-admin language chose (a catalogue name like "zh_CN"), or None."""
        row = await self._one("SELECT language FROM guild_settings WHERE guild_id=?",
                              (guild_id,))
        return None if row is None else row["language"]

    async def set_guild_language(self, guild_id: int, language: str | None, *, by: int) -> None:
        """Set (or with None clear: Discord's preferred locale again) the server's language; audited."""
        now = self.clock()
        async with self._tx() as conn:
            await conn.execute(
                """INSERT INTO guild_settings (guild_id, language, updated_at, updated_by) VALUES (?,?,?,?)
                   ON CONFLICT(guild_id) DO UPDATE SET language=excluded.language,
                   updated_at=excluded.updated_at, updated_by=excluded.updated_by""",
                (guild_id, language, now, by))
            await self._audit(conn, guild_id, by, "language.set", language or "server default", now)
