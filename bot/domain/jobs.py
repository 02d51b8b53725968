"""Job states (a closed enum) and the one function that says which transitions are legal.

requested ─► submitting ─► queued ─► running ─► completed ─► downloading ─► delivering ─► delivered
   │ (local wait)   │  └─► unknown (outcome of the create not known: reconciled, never resubmitted)
   ├──────────────► failed (refunded)           expired (refunded)       delivery retried; file kept
   └──────────────► cancelled (the member took it back before it was sent: refunded)
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    REQUESTED = "requested"  # written with its quota reservation; waiting locally for a slot
    SUBMITTING = "submitting"  # the upstream create may be in flight
    UNKNOWN = "unknown"  # the create's outcome is unknown; reconciliation looks for it upstream
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"  # upstream finished; the download starts at once
    DOWNLOADING = "downloading"
    DELIVERING = "delivering"  # the file is on disk and verified; posting to Discord
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # taken back by its requester (or a manager) before it was sent upstream


TERMINAL = frozenset({JobState.DELIVERED, JobState.FAILED, JobState.EXPIRED, JobState.CANCELLED})
# Only a job still waiting locally can be taken back: once the create is sent, the provider has no cancel.
CANCELLABLE = frozenset({JobState.REQUESTED})
UPSTREAM_ACTIVE = frozenset({JobState.SUBMITTING, JobState.UNKNOWN, JobState.QUEUED, JobState.RUNNING})
# Jobs the poller works on when their next_poll_at is due.
POLLED = frozenset({JobState.UNKNOWN, JobState.QUEUED, JobState.RUNNING, JobState.COMPLETED,
                    JobState.DOWNLOADING, JobState.DELIVERING})
ACTIVE = frozenset(JobState) - TERMINAL
# Upstream has the finished video: it can be remixed, even while our own delivery is still finishing
# (a member may reply to the result the instant it appears, before it is recorded as delivered).
REMIXABLE = frozenset({JobState.COMPLETED, JobState.DOWNLOADING, JobState.DELIVERING, JobState.DELIVERED})

_S = JobState
_LEGAL: dict[JobState, frozenset[JobState]] = {
    _S.REQUESTED: frozenset({_S.SUBMITTING, _S.FAILED, _S.CANCELLED}),
    # back to requested only when the create certainly did not reach the provider (e.g. a 429)
    _S.SUBMITTING: frozenset({_S.REQUESTED, _S.QUEUED, _S.RUNNING, _S.COMPLETED, _S.FAILED, _S.UNKNOWN}),
    _S.UNKNOWN: frozenset({_S.QUEUED, _S.RUNNING, _S.COMPLETED, _S.FAILED}),
    _S.QUEUED: frozenset({_S.RUNNING, _S.COMPLETED, _S.FAILED, _S.EXPIRED}),
    _S.RUNNING: frozenset({_S.QUEUED, _S.COMPLETED, _S.FAILED, _S.EXPIRED}),
    _S.COMPLETED: frozenset({_S.DOWNLOADING, _S.EXPIRED, _S.FAILED}),
    _S.DOWNLOADING: frozenset({_S.COMPLETED, _S.DELIVERING, _S.EXPIRED, _S.FAILED}),
    _S.DELIVERING: frozenset({_S.COMPLETED, _S.DELIVERED, _S.FAILED}),  # completed: fetch a lost file again
    _S.DELIVERED: frozenset(),
    _S.FAILED: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.CANCELLED: frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, job_id: int, old: JobState, new: JobState) -> None:
        super().__init__(f"job {job_id}: illegal transition {old.value} -> {new.value}")


def can_transition(old: JobState, new: JobState) -> bool:
    """Legal moves; staying in the same state (a progress update) is always allowed."""
    return old == new or new in _LEGAL[old]


def check_transition(job_id: int, old: JobState, new: JobState) -> None:
    """Raise `IllegalTransition` unless `old` → `new` is legal: every state write of the store calls it
    before it touches a row, so an illegal one changes nothing."""
    if not can_transition(old, new):
        raise IllegalTransition(job_id, old, new)


def sources_of(new: JobState) -> frozenset[JobState]:
    """Every state a job may move to `new` from (itself included): the guard of a conditional write."""
    return frozenset(old for old in JobState if can_transition(old, new))
