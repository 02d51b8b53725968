"""Crash test: the real bot process (`python -m bot`) is killed with SIGKILL while a job is in each
state, then started again. Every job must end delivered exactly once, with exactly one upstream
create, charged once. The bot talks to the loopback fake Discord and the fake relay (openai dialect)
that run in this test's process; the test watches the job's state in the SQLite file."""

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
from bot.sandbox.fake_providers.relay import FakeRelay
from tests.e2e.product import is_result, job_id_of

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


def job_state(db: Path, job_id: int) -> str | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
    try:
        row = conn.execute("SELECT state FROM jobs WHERE id=?", (job_id,)).fetchone()
        return row[0] if row else None
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()


def ledger_status(db: Path, job_id: int) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT status FROM quota_ledger WHERE job_id=?", (job_id,)).fetchone()[0]
    finally:
        conn.close()


async def wait_for_state(db: Path, job_id: int, state: str, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while job_state(db, job_id) != state:
        if loop.time() > deadline:
            raise AssertionError(f"job {job_id} never reached {state} (now {job_state(db, job_id)})")
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
        db = tmp_path / "bot.db"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.url,
               "DISCORD_GUILD_IDS": str(fake.world.guild_id), "SORA_PROVIDER": "openai",
               "SORA_BASE_URL": relay.base_url, "SORA_API_KEY": "relay-key", "DATABASE_URL": f"sqlite:///{db}",
               "DATA_DIR": str(tmp_path / "data"), "ENGINE_TIME_SCALE": "0.03", "QUOTA_USER_COOLDOWN_SECONDS": "0",
               "LOG_LEVEL": os.environ.get("CRASH_TEST_LOG_LEVEL", "INFO")}
        bot = BotProcess(env, tmp_path / "bot.log")
        await bot.start(fake)
        try:
            await fake.wait_until(lambda: fake.command("sora") is not None, timeout=15)
            SCENARIOS.get(state, _no_fault)(fake, relay)
            handle = await fake.slash("alice", "general", "sora", {"prompt": f"a crash while {state}"})
            job_id = job_id_of((await handle.followup(timeout=10)).content)
            if state == "delivering":  # the result post is slow; Discord still makes it after we die
                fake.inject_fault("POST", r"/channels/\d+/messages$", delay=2.0)
            await wait_for_state(db, job_id, state)
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
            await fake.wait_until(lambda: job_state(db, job_id) == "delivered", timeout=10)
            assert ledger_status(db, job_id) == "settled"
            assert await bot.terminate() == 0, bot.log()  # SIGTERM: a clean exit
        finally:
            if bot.proc.returncode is None:
                bot.proc.kill()
                await bot.proc.wait()
