"""`python -m bot doctor`: check an installation and say what to fix, before the bot is started.

One line per check, ✓ (fine), ! (a warning), ✗ (broken, with the fix on the next line) or – (skipped
because an earlier check failed); the exit code is 1 when anything is ✗, else 0. The checks:

- DISCORD_TOKEN is set and shaped like a bot token (three dot-separated base64url parts);
- SORA_API_KEY is set (not needed for `simulated`);
- the provider answers and accepts the key: one cheap call, `list(limit=1)`, or where the dialect has
  no list, `retrieve("video_doctor_probe")`, for which "not found" proves reachable + authenticated;
- ffmpeg runs (`ffmpeg -version`);
- the database opens, is writable and is migrated to the latest schema;
- DATA_DIR is writable and has at least 1 GiB free (less, or less than MAX_DISK_MB, is a warning);
- webhooks, when configured (bot/webhooks/checks.py): the secret is set, the receiver is listening,
  WEBHOOK_PUBLIC_URL leads to it.

Nothing secret is printed: the token and the key are only ever said to be "set", and every message
that came from elsewhere (an exception, the provider's answer) goes through `scrub` first.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import httpx

from bot.checks import Check, Status, display_url
from bot.logs import scrub
from bot.settings import ProviderName, Settings

log = logging.getLogger(__name__)

MIN_FREE_BYTES = 1024**3  # below this under DATA_DIR: a warning
PROVIDER_TIMEOUT_CAP = 15.0  # seconds per HTTP request while doctoring, whatever SORA_TIMEOUT_SECONDS says
PROVIDER_CHECK_SECONDS = 60.0  # the whole provider check, retries included
FFMPEG_CHECK_SECONDS = 20.0
PROBE_VIDEO_ID = "video_doctor_probe"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


# --- settings ------------------------------------------------------------------------------------
def token_shape_problem(token: str) -> str | None:
    """Why `token` cannot be a Discord bot token, or None when it is plausible. Never echoes it."""
    if token.lower().startswith("bot "):
        return "it starts with 'Bot ': put only the token itself"
    if token != token.strip():
        return "it has spaces around it"
    parts = token.split(".")
    if len(parts) != 3:
        return f"a bot token has three parts separated by dots; this one has {len(parts)}"
    if not all(_BASE64URL.fullmatch(part) for part in parts):
        return "its parts must be base64url text (letters, digits, '-' and '_')"
    return None


def token_user_id(token: str) -> int | None:
    """The bot's user id encoded in the token's first part (public information), when it decodes."""
    first = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(decoded) if decoded.isdigit() else None


def check_discord_token(settings: Settings) -> Check:
    name = "Discord token"
    token = settings.discord_token.get_secret_value() if settings.discord_token else ""
    if not token.strip():
        return Check(name, Status.FAIL, "DISCORD_TOKEN is not set",
                     "set DISCORD_TOKEN in .env (Developer Portal → your application → Bot → Reset Token)")
    problem = token_shape_problem(token)
    if problem:
        return Check(name, Status.FAIL, f"DISCORD_TOKEN does not look like a bot token: {problem}",
                     "copy the token again from Developer Portal → Bot → Reset Token")
    user_id = token_user_id(token)
    suffix = f" (bot user id {user_id})" if user_id else ""
    return Check(name, Status.OK, f"set, shaped like a bot token{suffix}")


def check_provider_key(settings: Settings) -> Check:
    name = "Provider key"
    if settings.sora_provider is ProviderName.SIMULATED:
        return Check(name, Status.OK, "not needed for the simulated provider")
    if settings.sora_api_key is None or not settings.sora_api_key.get_secret_value().strip():
        return Check(name, Status.FAIL, f"SORA_API_KEY is not set (provider {settings.sora_provider.value})",
                     "set SORA_API_KEY in .env, or SORA_PROVIDER=simulated to try the bot for free")
    return Check(name, Status.OK, "SORA_API_KEY is set")


# --- provider ------------------------------------------------------------------------------------
async def _probe_provider(settings: Settings) -> Check:
    from bot.sora.errors import (
        AuthenticationFailed,
        InvalidRequest,
        NotFound,
        OperationUnsupported,
        RateLimited,
        SoraError,
    )
    from bot.sora.factory import build_provider
    from bot.sora.retry import RetryPolicy

    name = "Provider reachable"
    where = f"{settings.sora_provider.value} at {display_url(settings.sora_base_url)}"
    if settings.sora_provider is ProviderName.SIMULATED:
        where = "simulated (local, no network)"
    bounded = settings.model_copy(
        update={"sora_timeout_seconds": min(settings.sora_timeout_seconds, PROVIDER_TIMEOUT_CAP)})
    # One quick retry: a diagnosis should answer in seconds, not wait out the bot's full backoff.
    provider = build_provider(bounded, retry=RetryPolicy(max_attempts=2, max_delay=2.0,
                                                               max_retry_after=5.0))
    try:
        try:
            await provider.list(limit=1)
            how = "listed videos"
        except OperationUnsupported:
            try:
                await provider.retrieve(PROBE_VIDEO_ID)
                how = "retrieved a probe id"
            except (NotFound, InvalidRequest):  # the request got through authentication and routing
                how = "asked for an unknown video and was told it does not exist"
        if settings.sora_provider is ProviderName.SIMULATED:
            return Check(name, Status.OK, f"{where}: works ({how})")
        return Check(name, Status.OK, f"{where}: key accepted ({how})")
    except AuthenticationFailed as exc:
        return Check(name, Status.FAIL, f"{where}: the key was refused ({_describe(exc)})",
                     "check SORA_API_KEY (and that it belongs to this provider)")
    except NotFound as exc:
        return Check(name, Status.FAIL, f"{where}: the list endpoint was not found ({_describe(exc)})",
                     "check SORA_BASE_URL: it must include the version prefix (…/v1); see SORA_PATHS")
    except RateLimited as exc:
        return Check(name, Status.WARN, f"{where}: reachable but rate-limited right now ({_describe(exc)})")
    except SoraError as exc:
        return Check(name, Status.FAIL, f"{where}: no usable answer ({_describe(exc)})",
                     "check SORA_BASE_URL and the network between this machine and the provider")
    finally:
        await provider.aclose()


async def check_provider(settings: Settings, key: Check) -> Check:
    name = "Provider reachable"
    if key.status is Status.FAIL:
        return Check(name, Status.SKIP, "not checked: no API key")
    try:
        async with asyncio.timeout(PROVIDER_CHECK_SECONDS):
            return await _probe_provider(settings)
    except TimeoutError:
        return Check(name, Status.FAIL, f"no answer within {PROVIDER_CHECK_SECONDS:.0f} s",
                     "check SORA_BASE_URL and the network between this machine and the provider")
    except (OSError, httpx.HTTPError) as exc:  # a transport error the client did not wrap
        return Check(name, Status.FAIL, f"cannot connect: {_describe(exc)}", "check SORA_BASE_URL")


# --- ffmpeg --------------------------------------------------------------------------------------
async def check_ffmpeg() -> Check:
    from bot.media import ffmpeg_path
    from bot.sora.errors import FfmpegMissing

    name = "ffmpeg"
    fix = "reinstall the project (`pip install -e .` brings imageio-ffmpeg), or set FFMPEG_BINARY"
    try:
        exe = ffmpeg_path()
    except FfmpegMissing as exc:
        return Check(name, Status.FAIL, _describe(exc), fix)
    try:
        proc = await asyncio.create_subprocess_exec(exe, "-hide_banner", "-version",
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
    except OSError as exc:
        return Check(name, Status.FAIL, f"{exe} does not start: {_describe(exc)}", fix)
    try:
        async with asyncio.timeout(FFMPEG_CHECK_SECONDS):
            output, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return Check(name, Status.FAIL, f"{exe} -version did not finish in {FFMPEG_CHECK_SECONDS:.0f} s", fix)
    first_line = output.decode("utf-8", "replace").strip().splitlines()[:1]
    if proc.returncode != 0 or not first_line:
        return Check(name, Status.FAIL, f"{exe} -version exited with {proc.returncode}", fix)
    version = first_line[0].split(" Copyright")[0]
    return Check(name, Status.OK, f"{version} ({exe})")


# --- storage -------------------------------------------------------------------------------------
async def check_database(settings: Settings) -> Check:
    from db.database import migration_state, open_database

    name = "Database"
    if settings.database_is_postgres:
        return await check_postgres(settings)
    try:
        path = settings.database_path
    except ValueError as exc:
        return Check(name, Status.FAIL, str(exc), "set DATABASE_URL=sqlite:///data/sora-bot.db (or an absolute "
                     "sqlite:////path)")
    fix = (f"make {path.parent} a writable folder for this user, or point DATABASE_URL elsewhere "
           "(Docker: keep it under /data)")
    try:
        conn = await open_database(path)
    except Exception as exc:
        return Check(name, Status.FAIL, f"cannot open {path}: {_describe(exc)}", fix)
    try:
        applied, latest = await migration_state(conn)
        if applied > latest:
            return Check(name, Status.FAIL,
                         f"{path} has schema version {applied}, newer than this code's {latest}",
                         "upgrade sora-bot, or restore a backup made with this version")
        if applied < latest:
            return Check(name, Status.FAIL, f"{path} is at schema version {applied} of {latest}",
                         "start the bot once (migrations run at start-up) and look at its log")
        # A write that leaves nothing behind: proves the file (and its WAL) are writable.
        await conn.execute("BEGIN IMMEDIATE")
        try:
            await conn.execute("CREATE TABLE doctor_write_probe (x INTEGER)")
        finally:
            await conn.execute("ROLLBACK")
    except Exception as exc:
        return Check(name, Status.FAIL, f"{path} is not writable: {_describe(exc)}", fix)
    finally:
        await conn.close()
    return Check(name, Status.OK, f"{path} writable, migrated (schema version {applied} of {latest})")


def _redacted_dsn(url: str) -> str:
    """postgresql://user:secret@host/db → postgresql://user@host/db (never print a password)."""

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


async def check_postgres(settings: Settings) -> Check:
    """Connect, compare the migration level with this code's, and prove a write (rolled back)."""
    import asyncpg

    from db.database import PG_MIGRATIONS_DIR, migrations

    name = "Database"
    where = _redacted_dsn(settings.database_url)
    fix = "start PostgreSQL, check host/port/user/password/database in DATABASE_URL, and that this host may connect"
    try:
        conn = await asyncpg.connect(settings.database_url, timeout=5)
    except Exception as exc:
        return Check(name, Status.FAIL, f"cannot connect to {where}: {_describe(exc)}", fix)
    try:
        latest = len(migrations(PG_MIGRATIONS_DIR))
        applied = 0
        if await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL"):
            applied = int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
        if applied > latest:
            return Check(name, Status.FAIL, f"{where} has schema version {applied}, newer than this code's {latest}",
                         "upgrade every bot process to the same release")
        if applied < latest:
            return Check(name, Status.FAIL, f"{where} is at schema version {applied} of {latest}",
                         "start the bot once (migrations run at start-up) and look at its log")
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("CREATE TEMP TABLE doctor_write_probe (x INTEGER)")
        finally:
            await tx.rollback()
    except Exception as exc:
        return Check(name, Status.FAIL, f"{where}: {_describe(exc)}", fix)
    finally:
        await conn.close()
    return Check(name, Status.OK, f"PostgreSQL {where} writable, migrated (schema version {applied} of {latest})")


def check_data_dir(data_dir: Path, max_disk_mb: int, *, min_free: int = MIN_FREE_BYTES) -> Check:
    """DATA_DIR exists (created if needed), takes a file, and has room."""
    name = "Data folder"
    fix = f"make {data_dir} a writable folder for this user, or set DATA_DIR elsewhere"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".doctor-") as handle:
            handle.write(b"ok")
            handle.flush()
    except OSError as exc:
        return Check(name, Status.FAIL, f"DATA_DIR {data_dir} is not writable: {_describe(exc)}", fix)
    free = shutil.disk_usage(data_dir).free
    text = f"{format_bytes(free)} free under {data_dir}"
    if free < min_free:
        return Check(name, Status.WARN, f"only {text}; downloads and transcodes need room "
                     f"(≥ {format_bytes(min_free)})")
    if free < max_disk_mb * 1024 * 1024:
        return Check(name, Status.WARN, f"{text}, less than MAX_DISK_MB={max_disk_mb}")
    return Check(name, Status.OK, text)


async def check_disk(settings: Settings) -> Check:
    return await asyncio.to_thread(check_data_dir, settings.data_dir, settings.max_disk_mb)


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


# --- the report ----------------------------------------------------------------------------------
def _secrets(settings: Settings) -> list[str]:
    return settings.secret_values()


def _describe(exc: BaseException) -> str:
    """The first line of an exception's text (scrubbed again with the real secrets in `render`)."""
    text = str(exc).strip()
    return scrub(text.splitlines()[0]) if text else type(exc).__name__


async def _guard(name: str, run: Callable[[], Awaitable[Check]]) -> Check:
    """A check that crashes is a ✗ naming the crash, not a traceback."""
    try:
        return await run()
    except Exception as exc:
        log.debug("doctor check %s crashed", name, exc_info=True)
        return Check(name, Status.FAIL, f"the check itself failed: {type(exc).__name__}: {_describe(exc)}")


def render(checks: list[Check], secrets: list[str]) -> str:
    width = max(len(check.name) for check in checks)
    lines = []
    for check in checks:
        lines.append(f"  {check.status.value} {check.name.ljust(width)}  {scrub(check.detail, secrets)}")
        if check.status is Status.FAIL and check.fix:
            lines.append(f"    {' ' * width}  fix: {scrub(check.fix, secrets)}")
    failed = sum(check.status is Status.FAIL for check in checks)
    warned = sum(check.status is Status.WARN for check in checks)
    if failed:
        lines.append(f"{failed} check(s) failed; fix them and run `python -m bot doctor` again.")
    else:
        lines.append("All checks passed" + (f" ({warned} warning(s))." if warned else "."))
    return "\n".join(lines) + "\n"


async def run_checks(settings: Settings) -> list[Check]:
    checks = [check_discord_token(settings), check_provider_key(settings)]
    checks.append(await _guard("Provider reachable", lambda: check_provider(settings, checks[1])))
    checks.append(await _guard("ffmpeg", check_ffmpeg))
    checks.append(await _guard("Database", lambda: check_database(settings)))
    checks.append(await _guard("Data folder", lambda: check_disk(settings)))
    from bot.webhooks.checks import check_webhook_receiver, check_webhook_url

    checks.append(await _guard("Webhook receiver", lambda: check_webhook_receiver(settings)))
    checks.append(await _guard("Webhook URL", lambda: check_webhook_url(settings, checks[-1])))
    return checks


async def doctor(settings: Settings, *, out: TextIO = sys.stdout) -> int:
    """Print the report to `out`; 1 if any check failed, else 0."""
    out.write(f"sora-bot doctor — provider {settings.sora_provider.value}\n")
    checks = await run_checks(settings)
    out.write(render(checks, _secrets(settings)))
    out.flush()
    return 1 if any(check.status is Status.FAIL for check in checks) else 0
