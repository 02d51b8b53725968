"""Crash test: the real bot process (`python -m bot`) is killed with SIGKILL while a job is in each
state, then started again. Every job must end delivered exactly once, with exactly one upstream
create, charged once. The bot talks to the loopback fake Discord and the fake relay (openai dialect)
that run in this test's process; the test watches the job's state in the database (SQLite, or
PostgreSQL with TEST_DATABASE=postgres)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.sandbox.fake_discord import FakeDiscord
from tests.e2e.product import is_result, job_id_of
from tests.fakes.relay import FakeRelay
from tests.pgtools import database_url

ROOT = Path(__file__).resolve().parents[2]


class BotProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, fake: FakeDiscord) -> None:
        identified = len(fake.gateway.identifies)
        log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", env=self.env, cwd=self.log_path.parent, stdout=log, stderr=log)
        log.close()
        await fake.wait_until(lambda: len(fake.gateway.identifies) > identified, timeout=30, what="the bot to log in")

    async def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


class Peek:
    """Reads a job's state and ledger row straight from the bot's database: the SQLite file, or the
    PostgreSQL database (TEST_DATABASE=postgres), over a connection of the test's own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg = None

    async def __aenter__(self) -> Peek:
        if self.url.startswith("postgresql://"):
            import asyncpg

            self.pg = await asyncpg.connect(self.url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.pg is not None:
            await self.pg.close()

    async def _value(self, sql: str, job_id: int) -> str | None:
        if self.pg is not None:
            import asyncpg

            try:
                return await self.pg.fetchval(sql.replace("?", "$1"), job_id)
            except asyncpg.UndefinedTableError:  # the bot has not migrated yet
                return None
        conn = sqlite3.connect(f"file:{self.url[len('sqlite:///'):]}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute(sql, (job_id,)).fetchone()
            return row[0] if row else None
        except sqlite3.OperationalError:
            return None
        finally:
            conn.close()

    async def job_state(self, job_id: int) -> str | None:
        return await self._value("SELECT state FROM jobs WHERE id=?", job_id)

    async def ledger_status(self, job_id: int) -> str | None:
        return await self._value("SELECT status FROM quota_ledger WHERE job_id=?", job_id)

    async def wait_for_state(self, job_id: int, state: str, timeout: float = 30) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await self.job_state(job_id) != state:
            if loop.time() > deadline:
                raise AssertionError(f"job {job_id} never reached {state} (now {await self.job_state(job_id)})")
            await asyncio.sleep(0.005)


def _no_fault(fake: FakeDiscord, relay: FakeRelay) -> None:
    return None


# state to kill in → what makes that state last long enough to be caught
SCENARIOS: dict[str, Callable[[FakeDiscord, FakeRelay], None]] = {
    # the create reaches the relay, its answer is late: the POST happened but its id was never stored
    "submitting": lambda fake, relay: relay.hang(1, seconds=3, kind="create", after_processing=True),
    "queued": _no_fault,
    "running": _no_fault,
    # the first download fails (after the client's own retries): the job waits in `completed` for its retry
    "completed": lambda fake, relay: relay.server_error(4, kind="content"),  # the client tries 4 times
    "downloading": lambda fake, relay: relay.hang(1, seconds=3, kind="content"),
}


@pytest.mark.parametrize("state", [*SCENARIOS, "delivering"])
async def test_sigkill_in_each_state_delivers_exactly_once(state, tmp_path):
    async with FakeDiscord() as fake, FakeRelay(dialect="openai", api_key="relay-key", render_seconds=3.0,
                                               queue_fraction=0.3) as relay:
        db = database_url(tmp_path)  # SQLite, or PostgreSQL with TEST_DATABASE=postgres
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.url,
               "DISCORD_GUILD_IDS": str(fake.world.guild_id), "SORA_PROVIDER": "openai",
               "SORA_BASE_URL": relay.base_url, "SORA_API_KEY": "relay-key", "DATABASE_URL": db,
               "DATA_DIR": str(tmp_path / "data"), "ENGINE_TIME_SCALE": "0.03", "QUOTA_USER_COOLDOWN_SECONDS": "0",
               "LOG_LEVEL": os.environ.get("CRASH_TEST_LOG_LEVEL", "INFO")}
        bot = BotProcess(env, tmp_path / "bot.log")
        await bot.start(fake)
        try:
            async with Peek(db) as peek:
                await fake.wait_until(lambda: fake.command("sora") is not None, timeout=15)
                SCENARIOS.get(state, _no_fault)(fake, relay)
                handle = await fake.slash("alice", "general", "sora", {"prompt": f"a crash while {state}"})
                job_id = job_id_of((await handle.followup(timeout=10)).content)
                if state == "delivering":  # the result post is slow; Discord still makes it after we die
                    fake.inject_fault("POST", r"/channels/\d+/messages$", delay=2.0)
                await peek.wait_for_state(job_id, state)
                if state == "submitting":  # kill once the create has reached the relay, its answer pending
                    await fake.wait_until(lambda: relay.create_count == 1, timeout=10)
                await bot.kill()

                await bot.start(fake)
                result = await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=60)
                await asyncio.sleep(1.0)  # room for a duplicate to show up, if there were one
                results = [m for m in fake.messages("general") if is_result(m, job_id)]
                assert len(results) == 1, bot.log()
                assert result.mentions == [fake.user("alice").id]
                assert relay.create_count == 1, bot.log()
                await peek.wait_for_state(job_id, "delivered", timeout=10)
                assert await peek.ledger_status(job_id) == "settled"
                assert await bot.terminate() == 0, bot.log()  # SIGTERM: a clean exit
        finally:
            if bot.proc.returncode is None:
                bot.proc.kill()
                await bot.proc.wait()
