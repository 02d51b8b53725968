"""The engine depends on `JobStore` (bot/domain/store.py), never on `db.repository`: the repository
must offer every method of the Protocol with the same parameters (names, kinds, defaults), so the
engine runs unchanged on whatever implements it. Both backends share this one Repository class."""

from __future__ import annotations

import ast
import inspect
import pathlib

from bot.domain.store import JobStore
from db.repository import Repository

ENGINE = pathlib.Path(__file__).resolve().parents[1] / "bot" / "engine"


def protocol_methods() -> list[str]:
    return sorted(name for name, value in inspect.getmembers(JobStore, inspect.isfunction)  # QuotaStore's too
                  if not name.startswith("_"))


def mismatches(store: type) -> list[str]:
    """What `store` lacks or spells differently from the Protocol (empty: it implements JobStore)."""
    problems = []
    for name in protocol_methods():
        wanted_fn, have_fn = getattr(JobStore, name), getattr(store, name, None)
        if have_fn is None:
            problems.append(f"{name}: missing")
            continue
        if inspect.iscoroutinefunction(wanted_fn) != inspect.iscoroutinefunction(have_fn):
            problems.append(f"{name}: async differs")
        wanted = [(p.name, p.kind, p.default) for p in inspect.signature(wanted_fn).parameters.values()]
        have = [(p.name, p.kind, p.default) for p in inspect.signature(have_fn).parameters.values()]
        if have != wanted:
            problems.append(f"{name}: {have} != {wanted}")
    return problems


def store_calls() -> set[str]:
    """Every method the engine calls on its store (`ctx.repo.x(…)`, `self.repo.x(…)`, `repo.x(…)`)."""
    called = set()
    for path in ENGINE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if (isinstance(owner, ast.Name) and owner.id == "repo") or (
                        isinstance(owner, ast.Attribute) and owner.attr == "repo"):
                    called.add(node.func.attr)
    return called


def test_the_protocol_lists_everything_the_engine_calls():
    called = store_calls()
    assert {"transition", "end_job", "claim_due", "create_job"} <= called  # the scan sees the engine
    assert called <= set(protocol_methods()), sorted(called - set(protocol_methods()))


def test_repository_implements_the_protocol():
    assert mismatches(Repository) == []


def test_a_store_that_drifts_is_caught():
    class Drifted:
        async def get_job(self, job_id: int, fresh: bool = False) -> None: ...  # an extra parameter

        def claim_due(self, now: float, *, limit: int, lease: float) -> list: ...  # not async

    problems = mismatches(Drifted)
    assert any(p.startswith("get_job:") for p in problems)
    assert "claim_due: async differs" in problems
    assert "transition: missing" in problems
