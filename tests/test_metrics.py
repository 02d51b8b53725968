"""The null `Metrics` the engine uses when none is injected: every call-site helper is a no-op on it."""

from __future__ import annotations

import inspect

import pytest

from bot.metrics import Metrics, NullMetrics

# What call sites may call (the helpers); the rest of Metrics is its registry and series.
HELPERS = sorted(name for name, member in vars(Metrics).items()
                 if inspect.isfunction(member) and not name.startswith("_")
                 and name not in ("set_job_counts_source", "refresh", "time_provider"))


def test_every_helper_of_metrics_is_a_no_op_on_the_null_one() -> None:
    assert {"submitted", "failed", "status_request", "quota_refused", "progress_update", "step_overrun",
            "webhook", "observe_delivery", "transcoded"} <= set(HELPERS)
    overridden = [name for name in HELPERS if name in vars(NullMetrics)]
    assert overridden == HELPERS  # a helper added to Metrics alone would reach series NullMetrics lacks


@pytest.mark.parametrize("name", HELPERS)
def test_null_helpers_record_nothing_and_raise_nothing(name: str) -> None:
    null = NullMetrics()
    params = [p for p in inspect.signature(getattr(null, name)).parameters.values()]
    args = [1 if p.annotation in ("int", "float") else {} if "Mapping" in str(p.annotation) else "x" for p in params]
    assert getattr(null, name)(*args) in (None, b"")
    assert null.render() == b""


def test_the_real_helpers_count() -> None:
    metrics = Metrics()
    metrics.submitted("openai", "sora-2")
    metrics.step_overrun("delivering")
    metrics.webhook("openai", "accepted")
    text = metrics.render().decode()
    assert 'sora_bot_submissions_total{model="sora-2",provider="openai"} 1.0' in text
    assert 'sora_bot_step_overruns_total{step="delivering"} 1.0' in text
    assert 'sora_bot_webhooks_total{outcome="accepted",source="openai"} 1.0' in text


def test_time_provider_works_on_the_null_metrics() -> None:
    with NullMetrics().time_provider("retrieve"):
        pass
