"""Shared fixtures and the backend switch.

`store_url` is a fresh database of each backend (the repository contract suite runs against SQLite
and PostgreSQL alike).

Every other test that uses a database gets it from `tests.pgtools.database_url(tmp_path)` (through
`make_settings`, `product_settings`, ...): SQLite by default; with `TEST_DATABASE=postgres`, a fresh
PostgreSQL database per test, dropped after. Such tests carry the `db` marker, given here from the
fixture graph and the helpers their module imports (or written by hand: `pytestmark = pytest.mark.db`).
`TEST_DATABASE=postgres` runs only the `db` tests, less those that already chose their backend
themselves (the `store_url` ones, and those that open `fresh_database`): they ran in the default pass.
So nothing that touches a database is left out, a default run (SQLite) fails any test that opened a
database without the marker.
"""

from __future__ import annotations

import pytest

from tests import pgtools
from tests.pgtools import fresh_database

# A test module that imports one of these builds a bot, an engine or a store on the switched database.
_DB_HELPERS = {"make_settings", "product_settings", "Harness", "database_url", "open_store", "running_product",
               "Repository", "run_busy_channel"}
# ... and one that imports these picks its backend itself (both, or PostgreSQL): run once, in the default pass.
_OWN_BACKEND = {"fresh_database", "require_postgres", "PostgresDatabase"}


def _uses_database(item: pytest.Item) -> bool:
    if item.get_closest_marker("db") or "store_url" in getattr(item, "fixturenames", ()):
        return True
    module = getattr(item, "module", None)
    return bool(module and _DB_HELPERS & set(vars(module)))


def _own_backend(item: pytest.Item) -> bool:
    module = getattr(item, "module", None)
    return "store_url" in getattr(item, "fixturenames", ()) or bool(module and _OWN_BACKEND & set(vars(module)))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "db: the test opens a database (it runs again with TEST_DATABASE=postgres)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_database(item):
            item.add_marker(pytest.mark.db)
    if not pgtools.on_postgres():
        return
    keep = [item for item in items if _uses_database(item) and not _own_backend(item)]
    dropped = [item for item in items if item not in set(keep)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(autouse=True)
def _switched_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Drop the test's PostgreSQL databases after it; fail a test that opened a database unmarked."""
    import db.database
    from db.backend import PostgresDatabase

    opened: list[str] = []
    open_database, connect = db.database.open_database, PostgresDatabase.connect.__func__

    async def watched_open_database(path, *args, **kwargs):
        opened.append(str(path))
        return await open_database(path, *args, **kwargs)

    async def watched_connect(cls, dsn, *args, **kwargs):
        opened.append("postgresql")
        return await connect(cls, dsn, *args, **kwargs)

    monkeypatch.setattr(db.database, "open_database", watched_open_database)
    monkeypatch.setattr(PostgresDatabase, "connect", classmethod(watched_connect))
    pgtools.begin_test()
    yield
    asked = pgtools.end_test()
    if (asked or opened) and not request.node.get_closest_marker("db"):
        pytest.fail(f"{request.node.nodeid} opens a database but has no `db` mark: import its settings helper "
                    "(tests.pgtools.database_url) or add `pytestmark = pytest.mark.db`, so that "
                    "TEST_DATABASE=postgres runs it too")


@pytest.fixture(params=["sqlite", "postgres"])
async def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'bot.db'}"
        return
    async with fresh_database() as url:
        yield url
