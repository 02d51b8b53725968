"""The loopback world the bot runs in without the internet: `python -m bot demo`, the tests and the
benchmarks all import it (docs/ARCHITECTURE.md says why it lives in the product).

- `fake_discord/`: a fake Discord (REST, gateway, webhooks) the real discord.py client connects to;
- `fake_providers/`: fake video providers speaking the real dialects (relay.py: openai, juheapi and
  xingchaoyiqing; openrouter.py), a hostile server for the download guards, and small real media;
- `recording.py`: a recording `Publisher` for the engine without Discord, settings and a requester;
- `job_paths.py`: `walk`, which puts a stored job into a state through legal transitions only;
- `product.py`: the whole product (the real SoraBot) on the fake Discord;
- `busy_channel.py`: a busy channel scenario (tests/e2e/test_busy_channel.py, bench/busy_channel.py).
"""
