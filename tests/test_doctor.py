"""`python -m bot doctor` against real things: the fake relay on loopback, real SQLite, real ffmpeg.

Each case checks the exit code, the line of the check concerned, its fix, and that no secret is
printed anywhere in the report.
"""

from __future__ import annotations

import io
import socket
import sqlite3
from pathlib import Path

import pytest

from bot.doctor import (
    Status,
    check_data_dir,
    check_database,
    display_url,
    doctor,
    token_shape_problem,
    token_user_id,
)
from bot.sandbox.fake_providers.relay import FakeRelay
from bot.settings import Settings

# Shaped like a real bot token: base64("123456789012345678") . 6 chars . 38 chars.
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz_0123456789-AB"
API_KEY = "sk-doctor-test-key-0123456789"
ALIASES = [field.alias for field in Settings.model_fields.values()]


@pytest.fixture
def make_settings(monkeypatch, tmp_path):
    """Settings from a clean environment with storage under tmp_path, plus the given overrides."""
    for alias in ALIASES:
        monkeypatch.delenv(alias, raising=False)
    monkeypatch.chdir(tmp_path)

    def make(**env: str) -> Settings:
        values = {"DISCORD_TOKEN": TOKEN, "DATABASE_URL": f"sqlite:///{tmp_path}/db/sora-bot.db",
                  "DATA_DIR": str(tmp_path / "videos"), "SORA_TIMEOUT_SECONDS": "5", **env}
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return Settings()

    return make


async def run_doctor(settings: Settings) -> tuple[int, dict[str, str], str]:
    """(exit code, {check name: its line(s)}, whole report)."""
    out = io.StringIO()
    code = await doctor(settings, out=out)
    report = out.getvalue()
    lines: dict[str, str] = {}
    current = None
    for line in report.splitlines()[1:]:
        if line.startswith("  ") and line[2] in "✓!✗–":
            current = line[4:].split("  ")[0].strip()
            lines[current] = line
        elif current and line.startswith("    "):
            lines[current] += "\n" + line
    for secret in (TOKEN, API_KEY, TOKEN.split(".")[2]):
        assert secret not in report, "a secret was printed"
    return code, lines, report


def relay_saw_no_create(relay: FakeRelay) -> bool:
    return relay.create_count == 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the whole report ------------------------------------------------------------------------------
async def test_good_settings_against_the_fake_relay_pass(make_settings):
    async with FakeRelay(dialect="openai", api_key=API_KEY) as relay:
        settings = make_settings(SORA_PROVIDER="openai", SORA_BASE_URL=relay.base_url, SORA_API_KEY=API_KEY)
        code, lines, report = await run_doctor(settings)
    assert code == 0, report
    for name in ("Discord token", "Provider key", "Provider reachable", "ffmpeg", "Database"):
        assert lines[name].startswith("  ✓"), report
    assert "bot user id 123456789012345678" in lines["Discord token"]
    assert "key accepted" in lines["Provider reachable"]
    assert "fix:" not in report
    assert relay_saw_no_create(relay), "the doctor never pays for a video"


async def test_dialect_without_list_is_probed_with_retrieve(make_settings):
    async with FakeRelay(dialect="xingchaoyiqing", api_key=API_KEY) as relay:
        settings = make_settings(SORA_PROVIDER="xingchaoyiqing", SORA_BASE_URL=relay.base_url,
                                 SORA_API_KEY=API_KEY)
        code, lines, report = await run_doctor(settings)
    assert code == 0, report
    assert lines["Provider reachable"].startswith("  ✓"), report
    assert "unknown video" in lines["Provider reachable"], "probed with retrieve, not list"
    assert relay_saw_no_create(relay)


async def test_broken_key_on_a_dialect_without_list(make_settings):
    async with FakeRelay(dialect="xingchaoyiqing", api_key="the-right-key-0123456789") as relay:
        settings = make_settings(SORA_PROVIDER="xingchaoyiqing", SORA_BASE_URL=relay.base_url,
                                 SORA_API_KEY=API_KEY)
        code, lines, report = await run_doctor(settings)
    assert code == 1
    assert "fix: check SORA_API_KEY" in lines["Provider reachable"], report


async def test_base_url_without_the_version_prefix_names_sora_base_url(make_settings):
    async with FakeRelay(dialect="openai", api_key=API_KEY) as relay:
        settings = make_settings(SORA_PROVIDER="openai", SORA_API_KEY=API_KEY,
                                 SORA_BASE_URL=relay.base_url.removesuffix("/v1"))
        code, lines, report = await run_doctor(settings)
    assert code == 1
    assert lines["Provider reachable"].startswith("  ✗"), report
    assert "fix: check SORA_BASE_URL" in lines["Provider reachable"]


async def test_broken_key_is_a_failure_that_names_sora_api_key(make_settings):
    async with FakeRelay(dialect="openai", api_key="the-right-key-0123456789") as relay:
        settings = make_settings(SORA_PROVIDER="openai", SORA_BASE_URL=relay.base_url, SORA_API_KEY=API_KEY)
        code, lines, report = await run_doctor(settings)
    assert code == 1
    assert lines["Provider reachable"].startswith("  ✗"), report
    assert "fix: check SORA_API_KEY" in lines["Provider reachable"]
    assert lines["Database"].startswith("  ✓"), "the other checks still ran"


async def test_unreachable_url_is_a_failure_that_names_sora_base_url(make_settings):
    settings = make_settings(SORA_PROVIDER="openai", SORA_API_KEY=API_KEY,
                             SORA_BASE_URL=f"http://127.0.0.1:{closed_port()}/v1")
    code, lines, report = await run_doctor(settings)
    assert code == 1
    assert lines["Provider reachable"].startswith("  ✗"), report
    assert "SORA_BASE_URL" in lines["Provider reachable"]


async def test_missing_token_and_key_fail_and_skip_the_provider_call(make_settings):
    settings = make_settings(DISCORD_TOKEN="", SORA_PROVIDER="openai",
                             SORA_BASE_URL=f"http://127.0.0.1:{closed_port()}/v1")
    code, lines, report = await run_doctor(settings)
    assert code == 1, report
    assert lines["Discord token"].startswith("  ✗") and "DISCORD_TOKEN is not set" in lines["Discord token"]
    assert "fix: set DISCORD_TOKEN" in lines["Discord token"]
    assert lines["Provider key"].startswith("  ✗") and "SORA_API_KEY" in lines["Provider key"]
    assert lines["Provider reachable"].startswith("  –"), "no call without a key"


async def test_simulated_needs_no_key(make_settings):
    settings = make_settings(SORA_PROVIDER="simulated")
    code, lines, report = await run_doctor(settings)
    assert code == 0, report
    assert "not needed" in lines["Provider key"]
    assert lines["Provider reachable"].startswith("  ✓"), report


async def test_unwritable_database_dir_fails_with_a_fix(make_settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    settings = make_settings(SORA_PROVIDER="simulated", DATABASE_URL=f"sqlite:///{blocker}/sora-bot.db",
                             DATA_DIR=str(blocker / "videos"))
    code, lines, report = await run_doctor(settings)
    assert code == 1
    assert lines["Database"].startswith("  ✗") and "fix: make" in lines["Database"], report
    assert lines["Data folder"].startswith("  ✗"), report


# --- single checks ---------------------------------------------------------------------------------
def test_token_shapes():
    assert token_shape_problem(TOKEN) is None
    assert token_user_id(TOKEN) == 123456789012345678
    assert "three parts" in token_shape_problem("just-one-part")
    assert "'Bot '" in token_shape_problem("Bot " + TOKEN)
    assert "base64url" in token_shape_problem("abc.d+f.ghi")
    assert "spaces" in token_shape_problem(TOKEN + " ")
    assert token_user_id("bm90LWFuLWlk.x.y") is None  # "not-an-id"
    for problem in (token_shape_problem(t) for t in ("x", "Bot " + TOKEN, "abc.d+f.ghi")):
        assert TOKEN not in problem


def test_display_url_drops_credentials():
    assert display_url("https://user:pa55@relay.example:8443/v1?k=secret") == "https://relay.example:8443/v1"
    assert display_url(None) == "(none)"


async def test_database_newer_than_the_code_fails(make_settings, tmp_path):
    settings = make_settings()
    assert (await check_database(settings)).status is Status.OK
    with sqlite3.connect(settings.database_path) as conn:
        conn.execute("PRAGMA user_version = 999")
    result = await check_database(settings)
    assert result.status is Status.FAIL and "newer" in result.detail and result.fix


async def test_database_url_without_sqlite_scheme_fails(make_settings):
    result = await check_database(make_settings(DATABASE_URL="postgres://db/sora"))
    assert result.status is Status.FAIL and "DATABASE_URL" in result.fix


def test_low_free_space_is_a_warning_not_a_failure(tmp_path):
    assert check_data_dir(tmp_path / "videos", 1).status is Status.OK
    low = check_data_dir(tmp_path / "videos", 1, min_free=2**62)
    assert low.status is Status.WARN and "free under" in low.detail
    over_budget = check_data_dir(Path(tmp_path), 2**40)
    assert over_budget.status is Status.WARN and "MAX_DISK_MB" in over_budget.detail
