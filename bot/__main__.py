"""Entry point: `python -m bot [run|doctor|demo|migrate-db]` (also the `sora-bot` console script).

`run` (the default) needs DISCORD_TOKEN, and SORA_API_KEY unless SORA_PROVIDER=simulated. A missing
or invalid setting prints one line that names the variable and exits with code 2, no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from pydantic import ValidationError

from bot.settings import MissingSetting, Settings

EXIT_CONFIG = 2


def _settings_error_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    name = str(first["loc"][0]) if first.get("loc") else "settings"
    return f"sora-bot: invalid setting {name}: {first['msg']}"


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        print(_settings_error_line(exc), file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    if settings.ffmpeg_binary:  # bot.media reads it from the environment; .env may be where it was set
        os.environ.setdefault("FFMPEG_BINARY", settings.ffmpeg_binary)
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sora-bot", description="Sora videos for your Discord server.")
    parser.add_argument("command", nargs="?", default="run", choices=["run", "doctor", "demo", "migrate-db"])
    parser.add_argument("--from", dest="source", help="migrate-db: the SQLite database (sqlite:///path)")
    parser.add_argument("--to", dest="target", help="migrate-db: the PostgreSQL database (postgresql://…)")
    args = parser.parse_args(argv)
    settings = load_settings()
    try:
        if args.command == "run":
            from bot.runner import run

            return asyncio.run(run(settings))
        if args.command == "migrate-db":
            from bot.migrate_db import migrate_db

            return asyncio.run(migrate_db(settings, args.source, args.target))
        if args.command == "doctor":
            from bot.doctor import doctor

            return asyncio.run(doctor(settings))
        from bot.demo import demo

        return asyncio.run(demo(settings))
    except MissingSetting as exc:
        print(f"sora-bot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
