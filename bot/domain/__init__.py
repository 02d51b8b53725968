"""The domain: what a job is and how it may move, with no I/O and no import of the rest of the bot.

- `bot.domain.jobs`: `JobState` (a closed enum), the state sets (TERMINAL, ACTIVE, …) and the table
  of legal transitions (`can_transition`, `check_transition`).
- `bot.domain.records`: `Job`, `NewJob` and the other records the store hands out and takes in.
- `bot.domain.store`: `JobStore`, the Protocol the engine depends on (db/repository.py implements it).

Every layer may import this package; it imports nothing of ours (docs/ARCHITECTURE.md, enforced by
the import contracts in pyproject.toml).
"""
