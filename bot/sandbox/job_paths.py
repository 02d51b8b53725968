"""Put a stored job into a state (a test's or a scenario's setup) by the legal road: the shortest path
through the transition table (bot/domain/jobs.py), each step a real `transition` of the store, with
`changes` written at the end."""

from __future__ import annotations

from collections import deque
from typing import Any

from bot.domain.jobs import JobState, can_transition
from bot.domain.records import Job


def legal_path(old: JobState, new: JobState) -> list[JobState]:
    """The states after `old` up to `new` on a shortest legal path; [] when `old` is `new`."""
    if old == new:
        return []
    before: dict[JobState, JobState] = {}
    queue = deque([old])
    while queue:
        state = queue.popleft()
        for step in JobState:
            if step != state and step not in before and step != old and can_transition(state, step):
                before[step] = state
                if step == new:
                    path = [step]
                    while path[-1] in before and before[path[-1]] != old:
                        path.append(before[path[-1]])
                    return path[::-1]
                queue.append(step)
    raise AssertionError(f"no legal path from {old.value} to {new.value}")


async def walk(repo: Any, job_id: int, new: JobState, **changes: Any) -> Job:
    """Move `job_id` to `new` through legal transitions; returns the job as stored."""
    job = await repo.get_job(job_id)
    assert job is not None, job_id
    state = job.state
    for step in legal_path(state, new):
        job = await repo.transition(job_id, state, step)
        assert job is not None, (job_id, state, step)
        state = step
    if changes:
        job = await repo.update(job_id, **changes)
    assert job is not None and job.state == new
    return job
