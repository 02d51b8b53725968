"""Prometheus metrics of one bot process, kept in a registry of their own (not the global one).

`__main__` creates one `Metrics` and injects it into the engine, the provider client and the health
server; nothing here is a module-level singleton, so tests can make as many as they like.

The job-state gauge is not counted by hand: the engine hands over a callback (sync or async) that
returns `{state: count}` from the database, and `refresh()` (called before each scrape) copies it in.
Labels stay in small closed sets (provider, model, operation, outcome, limit, failure reason) so the
number of series cannot grow with user input.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger(__name__)

# The text format `/metrics` serves (Prometheus exposition format 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

JobCounts = Mapping[str, int]
JobCountsSource = Callable[[], JobCounts | Awaitable[JobCounts]]

# Provider calls take from tens of milliseconds (status) to tens of seconds (a large download).
_PROVIDER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# From "the provider says completed" to "Discord accepted the upload": download + transcode + upload.
_DELIVERY_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Metrics:
    """Every metric the bot exports, with small helpers so call sites stay one line."""

    def __init__(self, namespace: str = "sora_bot", *, process: str | None = None, shards: str | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        # Several processes (PostgreSQL, shards): which one this is, for a per-process view of the
        # counters (`sora_bot_process{process, shards} 1`; join on the scrape's instance label).
        self.process = process
        self.shards = shards
        if process is not None:
            Gauge("process", "This bot process: its lease name and Discord shards.", ["process", "shards"],
                  namespace=namespace, registry=reg).labels(process=process, shards=shards or "all").set(1)
        self.jobs = Gauge("jobs", "Jobs by state, as last read from the database.", ["state"],
                          namespace=namespace, registry=reg)
        self.submissions = Counter("submissions", "Videos submitted upstream (creates and remixes).",
                                   ["provider", "model"], namespace=namespace, registry=reg)
        self.failures = Counter("failures", "Jobs that ended failed or expired, by reason.", ["reason"],
                                namespace=namespace, registry=reg)
        self.status_requests = Counter("status_requests", "Status polls sent upstream, by outcome.",
                                       ["provider", "outcome"], namespace=namespace, registry=reg)
        self.provider_latency = Histogram("provider_latency_seconds", "Latency of provider calls.",
                                          ["operation"], namespace=namespace, registry=reg,
                                          buckets=_PROVIDER_BUCKETS)
        self.delivery_latency = Histogram("delivery_latency_seconds",
                                          "From upstream completion to the Discord upload being done.",
                                          namespace=namespace, registry=reg, buckets=_DELIVERY_BUCKETS)
        self.quota_refusals = Counter("quota_refusals", "Requests refused by a quota, by limit.", ["limit"],
                                      namespace=namespace, registry=reg)
        self.transcoded_bytes = Counter("transcoded_bytes", "Bytes of video written by the transcoder.",
                                        namespace=namespace, registry=reg)
        self.webhooks = Counter("webhooks", "Webhook deliveries received, by source and outcome.",
                                ["source", "outcome"], namespace=namespace, registry=reg)
        self.progress_updates = Counter("progress_updates",
                                        "Status-message updates: sent, superseded (dropped for a newer one), failed.",
                                        ["outcome"], namespace=namespace, registry=reg)
        self.step_overruns = Counter("step_overruns", "Job steps cancelled for running past their deadline, by step.",
                                     ["step"], namespace=namespace, registry=reg)
        self._job_counts_source: JobCountsSource | None = None
        self._seen_states: set[str] = set()

    # --- job-state gauge ---------------------------------------------------------------------
    def set_job_counts_source(self, source: JobCountsSource | None) -> None:
        """The engine's `() -> {state: count}` (may be async); read on every `refresh()`."""
        self._job_counts_source = source

    def set_job_counts(self, counts: JobCounts) -> None:
        """Replace the gauge's values; a state seen before but absent now drops to 0."""
        for state in self._seen_states - set(counts):
            self.jobs.labels(state=state).set(0)
        for state, count in counts.items():
            self.jobs.labels(state=str(state)).set(count)
        self._seen_states |= {str(state) for state in counts}

    async def refresh(self) -> None:
        """Pull the job counts from the engine's callback. A failing callback is logged, not raised:
        a scrape must still answer, with the last known counts."""
        if self._job_counts_source is None:
            return
        try:
            counts = self._job_counts_source()
            if inspect.isawaitable(counts):
                counts = await counts
        except Exception:
            log.warning("metrics: the job-count callback failed; serving the last counts", exc_info=True)
            return
        self.set_job_counts(counts)

    # --- one-line helpers for call sites -----------------------------------------------------
    def submitted(self, provider: str, model: str) -> None:
        self.submissions.labels(provider=provider, model=model).inc()

    def failed(self, reason: str) -> None:
        self.failures.labels(reason=reason).inc()

    def status_request(self, provider: str, outcome: str) -> None:
        self.status_requests.labels(provider=provider, outcome=outcome).inc()

    def observe_provider(self, operation: str, seconds: float) -> None:
        self.provider_latency.labels(operation=operation).observe(seconds)

    @contextmanager
    def time_provider(self, operation: str) -> Iterator[None]:
        """`with metrics.time_provider("retrieve"): ...` — observed whether the call succeeds or not."""
        start = time.monotonic()
        try:
            yield
        finally:
            self.observe_provider(operation, time.monotonic() - start)

    def observe_delivery(self, seconds: float) -> None:
        self.delivery_latency.observe(seconds)

    def quota_refused(self, limit: str) -> None:
        self.quota_refusals.labels(limit=limit).inc()

    def transcoded(self, nbytes: int) -> None:
        self.transcoded_bytes.inc(nbytes)

    def webhook(self, source: str, outcome: str) -> None:
        self.webhooks.labels(source=source, outcome=outcome).inc()

    def progress_update(self, outcome: str) -> None:
        self.progress_updates.labels(outcome=outcome).inc()

    def step_overrun(self, step: str) -> None:
        self.step_overruns.labels(step=step).inc()

    # --- exposition --------------------------------------------------------------------------
    def render(self) -> bytes:
        """The registry in Prometheus text format (call `await refresh()` first for fresh job counts)."""
        return generate_latest(self.registry)


class NullMetrics(Metrics):
    """Metrics that go nowhere: the engine's default when none is injected (tests, benchmarks, the
    demo), so call sites never check for None. Only the one-line helpers may be called on it."""

    def __init__(self) -> None:  # no registry, no series
        self.process = self.shards = None
        self._job_counts_source = None
        self._seen_states = set()

    def set_job_counts(self, counts: JobCounts) -> None:
        pass

    def submitted(self, provider: str, model: str) -> None:
        pass

    def failed(self, reason: str) -> None:
        pass

    def status_request(self, provider: str, outcome: str) -> None:
        pass

    def observe_provider(self, operation: str, seconds: float) -> None:
        pass

    def observe_delivery(self, seconds: float) -> None:
        pass

    def quota_refused(self, limit: str) -> None:
        pass

    def transcoded(self, nbytes: int) -> None:
        pass

    def webhook(self, source: str, outcome: str) -> None:
        pass

    def progress_update(self, outcome: str) -> None:
        pass

    def step_overrun(self, step: str) -> None:
        pass

    def render(self) -> bytes:
        return b""


# --- labels from untrusted text ------------------------------------------------------------------------
# A failed job's code may be the provider's own words: as a label it would grow the series without
# bound (and could carry anything). Only these reach the `failures` counter; anything else is "provider".
FAILURE_REASONS = frozenset({
    "expired", "download_failed", "undeliverable", "unavailable", "unknown_outcome", "failed",
    "content_policy", "invalid", "auth", "not_found", "unsupported", "provider",
})
_ERROR_CLASS_REASONS = {
    "InvalidRequest": "invalid", "ContentPolicyRejected": "content_policy", "AuthenticationFailed": "auth",
    "NotFound": "not_found", "OperationUnsupported": "unsupported", "RemixUnsupported": "unsupported",
}


def failure_reason(code: str | None) -> str:
    """The metric label for a failure code: one of FAILURE_REASONS, whatever the code says."""
    text = (code or "").strip()
    if text in FAILURE_REASONS:
        return text
    return _ERROR_CLASS_REASONS.get(text, "provider")
