"""Two real `python -m bot` processes, shards 0 and 1 of 2, on one PostgreSQL database, against the
fake Discord (which routes the guild to its shard) and the fake relay. The process that accepted a
job (the guild's shard) is killed with SIGKILL while the video renders: the other process, which
has no guild of its own, delivers it through REST, exactly once, from one upstream create, charged
once. Each process keeps its files on its own disk (its own DATA_DIR)."""

from __future__ import annotations

import asyncio
import os

import asyncpg

from bot.sandbox.fake_discord import FakeDiscord
from bot.sandbox.fake_discord.gateway import shard_for
from bot.sandbox.fake_providers.relay import FakeRelay
from tests.e2e.product import is_result, job_id_of
from tests.e2e.test_crash import ROOT, BotProcess
from tests.pgtools import fresh_database


async def wait_for(conn: asyncpg.Connection, sql: str, *args: object, want: object, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (got := await conn.fetchval(sql, *args)) != want:
        if loop.time() > deadline:
            raise AssertionError(f"{sql} {args}: wanted {want!r}, still {got!r}")
        await asyncio.sleep(0.02)


async def test_sigkill_of_the_accepting_process_the_other_delivers_once(tmp_path):
    async with fresh_database() as url, FakeDiscord() as fake, FakeRelay(
            dialect="openai", api_key="relay-key", render_seconds=4.0, queue_fraction=0.2) as relay:
        gid = fake.world.guild_id
        owner = shard_for(gid, 2)  # the shard (and process) the guild's interactions reach
        common = {**os.environ, "PYTHONPATH": str(ROOT), "DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.url,
                  "DISCORD_GUILD_IDS": str(gid), "SORA_PROVIDER": "openai", "SORA_BASE_URL": relay.base_url,
                  "SORA_API_KEY": "relay-key", "DATABASE_URL": url, "ENGINE_TIME_SCALE": "0.03",
                  "QUOTA_USER_COOLDOWN_SECONDS": "0", "DISCORD_SHARD_COUNT": "2", "JOB_LEASE_SECONDS": "3",
                  "LOG_LEVEL": "INFO"}
        bots = {}
        for shard in (0, 1):
            (tmp_path / f"p{shard}").mkdir()
            env = {**common, "DISCORD_SHARD_IDS": str(shard), "BOT_INSTANCE_NAME": f"bot-{shard}",
                   "DATA_DIR": str(tmp_path / f"p{shard}" / "data")}
            bots[shard] = BotProcess(env, tmp_path / f"p{shard}" / "bot.log")
        db = await asyncpg.connect(url.replace("postgresql://", "postgres://"))
        try:
            for shard in (0, 1):
                await bots[shard].start(fake)
            await fake.wait_until(lambda: fake.command("sora") is not None, timeout=20, what="shard 0's sync")
            await fake.wait_until(lambda: len(fake.gateway.connected) == 2, timeout=20, what="both shards")
            assert sorted(i.shard for i in fake.gateway.identifies if i.accepted) == [(0, 2), (1, 2)]

            handle = await fake.slash("alice", "general", "sora", {"prompt": "a crash on one of two"})
            assert handle.record.delivered == 1  # only the guild's shard got the command
            job_id = job_id_of((await handle.followup(timeout=15)).content)
            await wait_for(db, "SELECT state FROM jobs WHERE id=$1", job_id, want="running")
            await bots[owner].kill()  # the process that took the request dies mid-render

            survivor = bots[1 - owner]
            result = await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=60)
            await wait_for(db, "SELECT state FROM jobs WHERE id=$1", job_id, want="delivered", timeout=15)
            await asyncio.sleep(1.5)  # room for a duplicate to show up, if there were one
            results = [m for m in fake.messages("general") if is_result(m, job_id)]
            assert len(results) == 1, survivor.log()
            assert result.mentions == [fake.user("alice").id]
            assert relay.create_count == 1, survivor.log()
            assert await db.fetchval("SELECT status FROM quota_ledger WHERE job_id=$1", job_id) == "settled"
            assert await db.fetchval("SELECT COUNT(*) FROM quota_ledger") == 1
            assert f"bot-{1 - owner}" == await db.fetchval("SELECT claimed_by FROM jobs WHERE id=$1", job_id)
            assert await survivor.terminate() == 0, survivor.log()
        finally:
            await db.close()
            for bot in bots.values():
                if bot.proc is not None and bot.proc.returncode is None:
                    bot.proc.kill()
                    await bot.proc.wait()
