"""Settings: the contract's names, defaults, parsing, and the one-line exit 2 for missing secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import MissingSetting, ProviderName, Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("DISCORD_", "SORA_", "QUOTA_", "DATABASE_", "DATA_DIR", "PRICE_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return monkeypatch


def test_defaults(clean_env):
    s = Settings()
    assert s.sora_provider is ProviderName.OPENAI
    assert s.sora_base_url == "https://api.openai.com/v1"
    assert s.database_url == "sqlite:///data/sora-bot.db"
    assert s.database_path == Path("data/sora-bot.db")
    assert s.data_dir == Path("data")
    assert s.discord_guild_ids == []


def test_csv_and_json_parsing(clean_env):
    clean_env.setenv("DISCORD_GUILD_IDS", "123, 456")
    clean_env.setenv("SORA_PATHS", '{"status": "/result/{id}"}')
    clean_env.setenv("SORA_ALLOWED_SECONDS", "4,8")
    clean_env.setenv("QUOTA_GUILD_USD_PER_MONTH", "")
    s = Settings()
    assert s.discord_guild_ids == [123, 456]
    assert s.sora_paths == {"status": "/result/{id}"}
    assert s.sora_allowed_seconds == [4, 8]
    assert s.quota_guild_usd_per_month is None


def test_missing_secrets_raise_named(clean_env):
    s = Settings()
    with pytest.raises(MissingSetting) as exc:
        s.require_discord()
    assert exc.value.variable == "DISCORD_TOKEN"
    with pytest.raises(MissingSetting) as exc:
        s.require_provider_key()
    assert exc.value.variable == "SORA_API_KEY"
    clean_env.setenv("SORA_PROVIDER", "simulated")
    assert Settings().require_provider_key() is None


def test_secret_not_in_repr(clean_env):
    clean_env.setenv("SORA_API_KEY", "sk-supersecretvalue123")
    assert "supersecretvalue" not in repr(Settings())


def _run_cli(env: dict[str, str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("DISCORD_", "SORA_", "DATABASE_", "DATA_DIR"))}
    return subprocess.run([sys.executable, "-m", "bot", *args], env={**base, **env}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("env", "variable"), [
    ({}, "DISCORD_TOKEN"),
    ({"DISCORD_TOKEN": "abc.def.ghi"}, "SORA_API_KEY"),
    ({"DISCORD_TOKEN": "abc.def.ghi", "SORA_PROVIDER": "juheapi"}, "SORA_API_KEY"),
])
def test_cli_missing_variable_exits_2_with_one_line(tmp_path, env, variable):
    proc = _run_cli({"PYTHONPATH": str(ROOT), **env}, tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert variable in lines[0]
    assert "Traceback" not in proc.stderr


def test_cli_invalid_value_exits_2(tmp_path):
    proc = _run_cli({"PYTHONPATH": str(ROOT), "SORA_PROVIDER": "nope"}, tmp_path)
    assert proc.returncode == 2
    assert "SORA_PROVIDER" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_secret_values_cover_a_postgres_password_raw_and_decoded():
    from bot.settings import Settings

    settings = Settings(_env_file=None, DISCORD_TOKEN="tok", SORA_PROVIDER="simulated",
                        DATABASE_URL="postgresql://sora:s3cr%2Fet@db:5432/sora")
    assert set(settings.secret_values()) == {"tok", "s3cr%2Fet", "s3cr/et"}
    assert Settings(_env_file=None, SORA_PROVIDER="simulated").secret_values() == []
