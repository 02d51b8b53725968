"""Smaller hostile-input items (issue 12, item 8): metric labels from a fixed set, a remix modal
that times out, bounded numbers from admins, aiohttp declared, a lock file the image installs."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from bot import admin
from bot.admin import AdminInputError
from bot.metrics import FAILURE_REASONS, Metrics, failure_reason
from bot.sandbox.fake_providers.relay import FakeRelay
from bot.sandbox.recording import member
from bot.sora.factory import build_provider
from cogs.views import RemixModal
from tests.engine_harness import Harness, make_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("code", "label"), [
    ("expired", "expired"), ("undeliverable", "undeliverable"), ("InvalidRequest", "invalid"),
    ("ContentPolicyRejected", "content_policy"), ("moderation_blocked", "provider"), (None, "provider"),
    ("sk-live-key {user=123}", "provider"), ("x" * 500, "provider")])
def test_failure_codes_map_to_a_fixed_set_of_labels(code, label):
    assert failure_reason(code) == label and label in FAILURE_REASONS


async def test_a_providers_error_code_never_becomes_a_metric_label(tmp_path):
    async with FakeRelay(dialect="openai", api_key="k", render_seconds=0.1) as relay:
        relay.fail_next_jobs(1, code="weird code #%s" % ("9" * 40), message="it broke")
        settings = make_settings(tmp_path, SORA_PROVIDER="openai", SORA_BASE_URL=relay.base_url, SORA_API_KEY="k")
        async with Harness(settings, build_provider(settings)) as h:
            h.ctx.metrics = Metrics()
            out = await h.service.request_video(member(), prompt="a storm")
            job = await h.wait_for(out.job.id, "failed")
            labels = {s.labels["reason"] for metric in h.ctx.metrics.failures.collect() for s in metric.samples}
    assert labels == {"provider"}
    assert re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", job.error_code), job.error_code


def test_the_remix_modal_times_out():
    assert RemixModal(7).timeout == 15 * 60


@pytest.mark.parametrize(("field", "text"), [("user_cooldown_seconds", "1e30"), ("user_videos_per_day", "9" * 25),
                                             ("guild_usd_per_month", "1e999999"), ("max_seconds", "86400")])
def test_absurd_numbers_from_admins_are_refused_in_words(field, text):
    with pytest.raises(AdminInputError):
        admin.parse_number(field, text)


def test_the_largest_cooldown_still_makes_a_decision():
    from datetime import UTC, datetime

    from bot import quota

    cooldown = admin.parse_number("user_cooldown_seconds", str(admin.MAX_VALUES["user_cooldown_seconds"]))
    limits = quota.Limits(user_cooldown_seconds=cooldown)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    decision = quota.decide(quota.Request("sora-2", "1280x720", 4), limits,
                            quota.Usage(user_last_submission=now), now)
    assert not decision.allowed and decision.reason is quota.Refusal.COOLDOWN


# --- packaging ------------------------------------------------------------------------------------

_DISTRIBUTIONS = {"discord": "discord.py", "PIL": "pillow", "imageio_ffmpeg": "imageio-ffmpeg",
                  "prometheus_client": "prometheus-client", "pydantic_settings": "pydantic-settings"}


def _third_party_imports() -> set[str]:
    import sys

    found = set()
    for folder in ("bot", "cogs", "db"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
                found.update(n.split(".")[0] for n in names)
    local = {"bot", "cogs", "db", "tests"}
    return {n for n in found if n not in sys.stdlib_module_names and n not in local}


def test_every_imported_package_is_declared():
    declared = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower()
                for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    missing = {_DISTRIBUTIONS.get(name, name).lower() for name in _third_party_imports()} - declared
    assert not missing, f"imported but not declared in pyproject dependencies: {sorted(missing)}"


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def test_the_lock_file_pins_every_dependency_with_hashes_and_the_image_uses_it():
    lock = (ROOT / "requirements.lock").read_text()
    pins = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", lock, re.M | re.I))
    pinned = {_normalized(name) for name in pins}
    declared = {_normalized(re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0])
                for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert declared <= pinned, f"not pinned: {declared - pinned}"
    assert lock.count("--hash=sha256:") >= len(pins), "every pin carries its hashes"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY .*requirements\.lock", dockerfile, re.M)
    assert re.search(r"pip install --require-hashes -r requirements\.lock", dockerfile)
    assert re.search(r"pip install --no-deps \.", dockerfile), "the project adds nothing unpinned"
