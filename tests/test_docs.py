"""The shipping files agree with the code: README, `.env.example`, Dockerfile and compose vs Settings.

- every Settings variable is in `.env.example` and in README's table, and nothing else is; the
  defaults README and `.env.example` show are the defaults Settings really has;
- the Dockerfile's Python satisfies `requires-python`, it copies and installs the packages pyproject
  lists, its storage paths are in the volume that compose mounts, and its HEALTHCHECK command really
  passes against a healthy `HealthServer` and fails against an unhealthy one;
- the invite permissions integer in README is the one discord.py computes.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
import shlex
import sys
import tomllib
from pathlib import Path, PurePosixPath

import discord
import pytest
from packaging.specifiers import SpecifierSet

from bot.health import HealthServer
from bot.settings import ProviderName, Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (ROOT / ".env.example").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
ALIASES = {field.alias for field in Settings.model_fields.values()}
assert all(ALIASES), "every Settings field has an env alias"
_ALIAS_TO_FIELD = {field.alias: name for name, field in Settings.model_fields.items()}

_ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")
_TABLE_ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|(.*?)\|(.*)\|\s*$")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No setting from the environment of whoever runs the tests, and no stray `.env`."""
    for alias in ALIASES:
        monkeypatch.delenv(alias, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


# --- README keeps the two commands of the product card -----------------------------------------
def test_readme_starts_with_the_run_and_test_commands():
    blocks = re.findall(r"```(\w*)\n(.*?)```", README, flags=re.S)
    assert blocks[0][1].strip() == (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/python -m bot demo")
    assert blocks[1][1].strip() == ".venv/bin/python -m pytest"
    assert README.index("```") < 1000, "the commands are near the top"


# --- variables: Settings == .env.example == README ----------------------------------------------
def _env_example_names() -> set[str]:
    return {m.group(1) for line in ENV_EXAMPLE.splitlines() if (m := _ENV_LINE.match(line.strip()))}


def _readme_table() -> dict[str, str]:
    """variable -> its default cell, from README's table of variables."""
    rows = {}
    for line in README.splitlines():
        match = _TABLE_ROW.match(line.strip())
        if match:
            rows[match.group(1)] = match.group(2).strip()
    return rows


def test_env_example_lists_exactly_the_settings_variables():
    names = _env_example_names()
    assert sorted(ALIASES - names) == [], "Settings variables missing from .env.example"
    assert sorted(names - ALIASES) == [], ".env.example variables that Settings does not read"


def test_readme_table_lists_exactly_the_settings_variables():
    table = _readme_table()
    assert sorted(ALIASES - set(table)) == [], "Settings variables missing from README's table"
    assert sorted(set(table) - ALIASES) == [], "README documents variables that Settings does not read"
    for name in _env_example_names():
        assert f"`{name}`" in README


def test_readme_defaults_are_the_real_defaults(clean_env):
    """A `code` default cell, fed back through Settings, gives the field's default; a prose cell
    ("(none: required)", "(no limit)") is only allowed where the default is empty."""
    defaults = Settings()
    for alias, cell in _readme_table().items():
        field_name = _ALIAS_TO_FIELD[alias]
        field = Settings.model_fields[field_name]
        raw_default = field.get_default(call_default_factory=True)
        code = re.fullmatch(r"`([^`]*)`", cell)
        if code is None:
            assert raw_default in (None, [], {}), f"README shows no default for {alias}: {raw_default!r}"
            continue
        clean_env.setenv(alias, code.group(1))
        shown = getattr(Settings(), field_name)
        clean_env.delenv(alias)
        assert shown == raw_default, f"README default of {alias} is {code.group(1)!r}, Settings has {raw_default!r}"
        if alias != "SORA_BASE_URL":
            assert getattr(defaults, field_name) == raw_default


def test_env_example_selects_simulated_and_needs_only_the_token(clean_env, tmp_path):
    env_file = tmp_path / "example.env"
    env_file.write_text(ENV_EXAMPLE, encoding="utf-8")
    settings = Settings(_env_file=env_file)
    assert settings.sora_provider is ProviderName.SIMULATED
    assert settings.require_provider_key() is None
    active = [m.group(1) for line in ENV_EXAMPLE.splitlines() if (m := _ENV_LINE.match(line)) and
              not line.startswith("#")]
    assert sorted(active) == ["DISCORD_TOKEN", "SORA_PROVIDER"], "everything else stays at its default"


def test_env_example_commented_values_are_valid_and_are_the_defaults(clean_env, tmp_path):
    """Uncomment every `# NAME=value` line: the file must still parse, and (the last line of each
    name being the default one) give exactly the settings of a bare environment."""
    uncommented = "\n".join(re.sub(r"^#\s*(?=[A-Z][A-Z0-9_]*=)", "", line)
                            for line in ENV_EXAMPLE.splitlines())
    env_file = tmp_path / "uncommented.env"
    env_file.write_text(uncommented, encoding="utf-8")
    secrets = {"discord_token", "sora_api_key"}
    settings = Settings(_env_file=env_file)
    for secret in secrets:
        value = getattr(settings, secret)
        assert value is None or value.get_secret_value() == "", f"{secret} ships blank"
    clean_env.setenv("SORA_PROVIDER", "simulated")
    assert settings.model_dump(exclude=secrets) == Settings().model_dump(exclude=secrets)


def test_readme_shows_every_provider_and_the_override_example():
    for provider in ProviderName:
        assert f"SORA_PROVIDER={provider.value}" in README
    assert 'SORA_PATHS={"status": "/result/{id}"}' in README


# --- Discord invite ---------------------------------------------------------------------------
def test_invite_permissions_integer_matches_discord():
    wanted = discord.Permissions(send_messages=True, attach_files=True, embed_links=True,
                                 read_message_history=True, use_application_commands=True)
    assert f"= **{wanted.value}**" in README
    assert ("https://discord.com/oauth2/authorize?client_id=<APP_ID>"
            "&scope=bot+applications.commands&permissions=<N>") in README
    for flag, value in wanted:
        if value:
            bit = getattr(discord.Permissions, flag).flag
            assert f"| {bit} |" in README, f"{flag} ({bit}) is in the arithmetic table"


def test_readme_names_every_command():
    for name in ("/sora ", "/sora-remix", "/sora-jobs", "/sora-quota", "/sora-admin", "Remix with Sora",
                 "**Remix** button", "python -m bot doctor", '".backup backup.db"'):
        assert name in README


# --- Dockerfile and compose -------------------------------------------------------------------
def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines()
                                             if not line.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            out.append((instruction.upper(), " ".join(args.split())))
    return out


def _stages() -> list[tuple[str, list[tuple[str, str]]]]:
    """(base image with ARGs substituted, its instructions) per FROM."""
    args: dict[str, str] = {}
    stages: list[tuple[str, list[tuple[str, str]]]] = []
    for instruction, rest in _dockerfile():
        if instruction == "ARG" and not stages:
            name, _, value = rest.partition("=")
            args[name] = value
        elif instruction == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
            stages.append((image, []))
        elif stages:
            stages[-1][1].append((instruction, rest))
    return stages


def _env_of(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for instruction, rest in instructions:
        if instruction == "ENV":
            for part in shlex.split(rest):
                name, _, value = part.partition("=")
                env[name] = value
    return env


def test_dockerfile_python_satisfies_requires_python():
    stages = _stages()
    assert len(stages) >= 2, "multi-stage"
    images = {image for image, _ in stages}
    assert len(images) == 1, "build and runtime share the base (the venv's interpreter path)"
    version = re.fullmatch(r"python:(\d+\.\d+)[\w.-]*", images.pop())
    assert version, "an official python image"
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(version.group(1) + ".0")
    assert "slim" in stages[0][0]


def test_dockerfile_copies_and_installs_the_project():
    build = _stages()[0][1]
    copied = set()
    for instruction, rest in build:
        if instruction == "COPY" and "--from" not in rest:
            copied.update(PurePosixPath(src).as_posix().rstrip("/") for src in rest.split()[:-1])
    packages = {pattern.rstrip("*").rstrip(".") for pattern in
                PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}
    needed = {"pyproject.toml", PYPROJECT["project"]["readme"], *packages}
    assert needed <= copied, f"not copied into the build stage: {needed - copied}"
    runs = " && ".join(rest for instruction, rest in build if instruction == "RUN")
    assert re.search(r"pip install (--no-deps )?\.(\s|$)", runs), "the project itself is installed"
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith(("#", "!"))]
    for path in needed:
        assert not any(fnmatch.fnmatch(path, pattern) for pattern in ignored), f".dockerignore drops {path}"


def test_runtime_stage_storage_user_health_and_cmd(clean_env):
    runtime = _stages()[-1][1]
    env = _env_of(runtime)
    volumes = [v for i, rest in runtime if i == "VOLUME" for v in json.loads(rest)]
    assert volumes == ["/data"]
    assert env["DATABASE_URL"] == "sqlite:////data/sora-bot.db"
    assert env["DATA_DIR"] == "/data/videos"
    for name, value in env.items():
        if name in ALIASES:
            clean_env.setenv(name, value)
    settings = Settings()
    assert settings.database_path == Path("/data/sora-bot.db")
    assert settings.data_dir.is_relative_to("/data")
    assert settings.health_port, "the HEALTHCHECK needs the endpoint on"
    assert settings.health_host == "127.0.0.1", "where the HEALTHCHECK command looks"
    users = [rest for i, rest in runtime if i == "USER"]
    assert users and users[-1] not in ("root", "0"), "runs as a non-root user"
    assert any(i == "COPY" and "--from=build" in rest for i, rest in runtime)
    cmd = [rest for i, rest in runtime if i == "CMD"]
    assert json.loads(cmd[-1]) == ["python", "-m", "bot"]
    assert "/opt/venv/bin" in env["PATH"]


def _healthcheck_command() -> list[str]:
    rest = next(rest for i, rest in _stages()[-1][1] if i == "HEALTHCHECK")
    return json.loads(rest[rest.index("CMD") + 3:].strip())


async def test_healthcheck_command_passes_on_200_and_fails_on_503():
    command = _healthcheck_command()
    assert command[:2] == ["python", "-c"] and "/healthz" in command[2]
    healthy = {"ok": True}

    async def gateway() -> bool:
        return healthy["ok"]

    server = HealthServer("127.0.0.1", 0, {"gateway": gateway})
    await server.start()
    try:
        async def run() -> int:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, *command[1:], env={"HEALTH_PORT": str(server.port)},
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            return await asyncio.wait_for(proc.wait(), 20)

        assert await run() == 0
        healthy["ok"] = False
        assert await run() != 0
    finally:
        await server.stop()


def _compose() -> dict:
    """A small reader for the YAML subset compose files use here: nested mappings, lists of scalars."""
    root: dict = {}
    stack: list[tuple[int, object]] = [(-1, root)]
    lines = [line for line in (ROOT / "docker-compose.yml").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    for index, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if text.startswith("- "):
            assert isinstance(parent, list)
            parent.append(text[2:].strip().strip("'\""))
            continue
        key, _, value = text.partition(":")
        value = value.strip().strip("'\"")
        if value:
            parent[key] = value
        else:
            following = lines[index + 1].strip() if index + 1 < len(lines) else ""
            child: object = [] if following.startswith("- ") else {}
            parent[key] = child
            stack.append((indent, child))
    return root


def test_compose_matches_the_dockerfile():
    compose = _compose()
    (service,) = [s for s in compose["services"].values() if "profiles" not in s]  # the default: one bot
    assert service["build"] == "."
    assert service["env_file"] == ".env"
    assert service["restart"] in ("unless-stopped", "always")
    mounts = dict(volume.rsplit(":", 1) for volume in service["volumes"])
    assert set(mounts.values()) == {"/data"}
    assert set(mounts) <= set(compose["volumes"]), "the mounted volume is a declared named volume"
    image_env = _env_of(_stages()[-1][1])
    for key, value in service.get("environment", {}).items():
        assert key in ALIASES
        assert image_env.get(key) == value, f"compose and the image disagree on {key}"


def test_the_lock_pins_every_runtime_dependency_within_its_range():
    """The Docker image installs requirements.lock (then the project with --no-deps): a dependency
    added to pyproject.toml but not re-locked would be missing from the image."""
    from packaging.requirements import Requirement

    def canonical(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = {canonical(name): version for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", lock,
                                                                          flags=re.M)}
    for line in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(line)
        name = canonical(requirement.name)
        assert name in pinned, f"{requirement.name} is not in requirements.lock: re-run the Dockerfile's pip-compile"
        assert pinned[name] in requirement.specifier, f"{name}=={pinned[name]} is outside {requirement.specifier}"


def test_compose_scale_profile_runs_two_shards_on_one_postgres():
    """`--profile scale`: a postgres service and two bots on different shards of one count, each its own
    lease name, both on that database, every variable they set one Settings reads."""
    services = _compose()["services"]
    scaled = {name: s for name, s in services.items() if s.get("profiles") == ["scale"]}
    assert set(scaled) == {"postgres", "bot-0", "bot-1"}
    bots = [scaled["bot-0"], scaled["bot-1"]]
    for bot in bots:
        env = bot["environment"]
        assert set(env) <= ALIASES
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        Settings(_env_file=None, **{k: v.replace("${POSTGRES_PASSWORD:-change-me}", "pw") for k, v in env.items()})
    envs = [b["environment"] for b in bots]
    assert {e["DISCORD_SHARD_COUNT"] for e in envs} == {"2"}
    assert sorted(e["DISCORD_SHARD_IDS"] for e in envs) == ["0", "1"]
    assert len({e["BOT_INSTANCE_NAME"] for e in envs}) == 2
