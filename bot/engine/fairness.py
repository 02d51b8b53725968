"""Fair ordering of jobs waiting for a render slot: round-robin across members by submission time.

Round k holds every member's k-th oldest waiting job, ordered by submission time; rounds follow one
another. So member A's five jobs never starve member B's one: B's job comes right after A's first
(if B submitted after it). Ties keep the input order, so the result is deterministic.

`pick_to_start` walks that order and picks the jobs that may start now under any number of caps
(per member, per guild, …), counting the jobs it picks against those caps.

Usage sketch (bot/engine/poller.py's admission, each tick)::

    waiting = await repo.jobs_in_states([JobState.REQUESTED])  # waiting locally for a slot
    caps = [Cap(lambda j: j.user_id, upstream_by_user, user_caps.get),
            Cap(lambda j: j.guild_id, upstream_by_guild, guild_caps.get)]
    for job in pick_to_start(waiting, key_user=lambda j: j.user_id, key_time=lambda j: j.created_at,
                             slots=free_provider_slots, caps=caps, running=served_since):
        claim_and_submit(job)
    positions = queue_positions(still_waiting, key_id=lambda j: j.id, key_user=..., key_time=...,
                                running=served_since)
    # positions[job.id] == 3  →  "you are #3 in line"
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def fair_order(waiting: Sequence[T], key_user: Callable[[T], Hashable], key_time: Callable[[T], Any], *,
               running: Mapping[Hashable, int] | None = None) -> list[T]:
    """`waiting` in round-robin order across users (see the module docstring). With `running`
    (jobs per user already rendering) a user's first waiting job joins round `running[user]`, so
    someone with nothing rendering goes first."""
    running = running or {}
    per_user: dict[Hashable, list[tuple[Any, int, T]]] = defaultdict(list)
    for index, item in enumerate(waiting):
        per_user[key_user(item)].append((key_time(item), index, item))
    ranked: list[tuple[int, Any, int, T]] = []
    for user, jobs in per_user.items():
        jobs.sort(key=lambda entry: (entry[0], entry[1]))
        offset = running.get(user, 0)
        ranked.extend((offset + round_no, when, index, item)
                      for round_no, (when, index, item) in enumerate(jobs))
    ranked.sort(key=lambda entry: (entry[0], entry[1], entry[2]))
    return [entry[3] for entry in ranked]


def queue_positions(waiting: Sequence[T], key_id: Callable[[T], K], key_user: Callable[[T], Hashable],
                    key_time: Callable[[T], Any], *, ahead: int = 0,
                    running: Mapping[Hashable, int] | None = None) -> dict[K, int]:
    """1-based place in line of each waiting job, by `fair_order`; `ahead` shifts every place (e.g.
    jobs already handed to a starting worker but not yet running)."""
    return {key_id(item): ahead + place
            for place, item in enumerate(fair_order(waiting, key_user, key_time, running=running), start=1)}


@dataclass(frozen=True)
class Cap(Generic[T]):
    """A concurrency cap: `key` groups jobs (by user, by guild…), `active` counts each group's
    running jobs, `limit` gives a group's cap (None = no cap)."""

    key: Callable[[T], Hashable]
    active: Mapping[Hashable, int]
    limit: Callable[[Hashable], int | None]

    def allows(self, item: T, picked: Mapping[Hashable, int]) -> bool:
        group = self.key(item)
        cap = self.limit(group)
        return cap is None or self.active.get(group, 0) + picked.get(group, 0) < cap


def pick_to_start(waiting: Sequence[T], key_user: Callable[[T], Hashable], key_time: Callable[[T], Any], *,
                  slots: int | None, caps: Iterable[Cap[T]] = (),
                  running: Mapping[Hashable, int] | None = None) -> list[T]:
    """The jobs to start now, in fair order: at most `slots` (None = no global limit), each within
    every cap once the jobs picked before it are counted."""
    caps = list(caps)
    picked_per_cap: list[dict[Hashable, int]] = [defaultdict(int) for _ in caps]
    chosen: list[T] = []
    for item in fair_order(waiting, key_user, key_time, running=running):
        if slots is not None and len(chosen) >= slots:
            break
        if all(cap.allows(item, picked) for cap, picked in zip(caps, picked_per_cap, strict=True)):
            chosen.append(item)
            for cap, picked in zip(caps, picked_per_cap, strict=True):
                picked[cap.key(item)] += 1
    return chosen
