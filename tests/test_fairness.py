"""Fair ordering of waiting jobs, queue positions, and picking what may start under caps."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.engine.fairness import Cap, fair_order, pick_to_start, queue_positions


@dataclass(frozen=True)
class Job:
    id: str
    user: str
    at: float
    guild: str = "g1"


def user(job: Job) -> str:
    return job.user


def at(job: Job) -> float:
    return job.at


def ids(jobs: list[Job]) -> list[str]:
    return [job.id for job in jobs]


A_FIVE_B_ONE = [Job(f"a{n}", "A", float(n)) for n in range(1, 6)] + [Job("b1", "B", 10.0)]


def test_one_users_burst_does_not_starve_another():
    assert ids(fair_order(A_FIVE_B_ONE, user, at)) == ["a1", "b1", "a2", "a3", "a4", "a5"]


def test_rounds_follow_submission_time_whatever_the_input_order():
    jobs = [Job("c1", "C", 3), Job("a2", "A", 4), Job("b1", "B", 2), Job("a1", "A", 1), Job("b2", "B", 5),
            Job("a3", "A", 6)]
    expected = ["a1", "b1", "c1", "a2", "b2", "a3"]
    assert ids(fair_order(jobs, user, at)) == expected
    shuffled = jobs[:]
    random.Random(3).shuffle(shuffled)
    assert ids(fair_order(shuffled, user, at)) == expected


def test_ties_keep_input_order_and_empty_input_is_fine():
    jobs = [Job("x", "A", 1), Job("y", "B", 1), Job("z", "C", 1)]
    assert ids(fair_order(jobs, user, at)) == ["x", "y", "z"]
    assert fair_order([], user, at) == []


def test_users_with_running_jobs_queue_behind_those_without():
    # A already renders two videos: B's and C's first jobs go before A's first waiting one
    jobs = [Job("a1", "A", 1), Job("b1", "B", 2), Job("c1", "C", 3), Job("b2", "B", 4)]
    assert ids(fair_order(jobs, user, at, running={"A": 2})) == ["b1", "c1", "b2", "a1"]


def test_queue_positions():
    positions = queue_positions(A_FIVE_B_ONE, lambda j: j.id, user, at)
    assert positions == {"a1": 1, "b1": 2, "a2": 3, "a3": 4, "a4": 5, "a5": 6}
    assert queue_positions(A_FIVE_B_ONE, lambda j: j.id, user, at, ahead=2)["b1"] == 4


def test_pick_to_start_respects_slots_and_caps():
    jobs = [*A_FIVE_B_ONE, Job("c1", "C", 11, guild="g2"), Job("c2", "C", 12, guild="g2")]
    # no caps: the first `slots` jobs of the fair order
    assert ids(pick_to_start(jobs, user, at, slots=3)) == ["a1", "b1", "c1"]
    per_user = Cap(user, {"A": 1}, lambda _user: 2)  # A has one running: room for one more
    per_guild = Cap(lambda j: j.guild, {"g1": 1}, lambda g: 3 if g == "g1" else None)
    picked = pick_to_start(jobs, user, at, slots=None, caps=[per_user, per_guild])
    # g1 has room for 2: a1 and b1; A would also be full after a1; C (g2, uncapped guild) gets 2
    assert ids(picked) == ["a1", "b1", "c1", "c2"]
    assert pick_to_start(jobs, user, at, slots=0) == []
    nobody = Cap(user, {}, lambda _user: 0)
    assert pick_to_start(jobs, user, at, slots=None, caps=[nobody]) == []
