"""The operator's money has a hard ceiling (issue 12, item 5): BOT_USD_PER_MONTH over every server,
no bypass; and a video rendered upstream but never delivered refunds the member, not the spend."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from bot import quota
from bot.engine.ports import DeliveryRejected
from bot.sandbox.recording import RecordingPublisher, member
from bot.sora.simulated import SimulatedProvider
from tests.engine_harness import Harness, make_settings

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
PRICES = {"sora-2": "0.10"}


def test_the_bot_budget_refuses_even_with_bypass():
    usage = quota.Usage(bot_month_usd=Decimal("9.80"))
    decision = quota.decide(quota.Request("sora-2", "1280x720", 4), quota.Limits(), usage, NOW, prices=PRICES,
                            bypass=True, bot_budget="10")
    assert not decision.allowed and decision.reason is quota.Refusal.BOT_USD
    assert decision.resets_at == datetime(2026, 4, 1, tzinfo=UTC) and decision.left == Decimal("0.20")
    assert "monthly spending limit" in decision.message
    within = quota.decide(quota.Request("sora-2", "1280x720", 2), quota.Limits(), usage, NOW, prices=PRICES,
                          bypass=True, bot_budget="10")
    assert within.allowed


def test_an_unpriced_request_is_refused_while_the_bot_budget_is_set():
    decision = quota.decide(quota.Request("sora-9", "1280x720", 4), quota.Limits(), quota.Usage(), NOW,
                            prices=PRICES, bypass=True, bot_budget=100)
    assert not decision.allowed and decision.reason is quota.Refusal.UNPRICED
    assert quota.decide(quota.Request("sora-9", "1280x720", 4), quota.Limits(), quota.Usage(), NOW,
                        prices=PRICES, bypass=True).allowed, "no ceiling: the manager's bypass still works"


async def test_the_bot_budget_counts_every_server_and_has_no_bypass(tmp_path):
    settings = make_settings(tmp_path, BOT_USD_PER_MONTH="0.50", QUOTA_GUILD_USD_PER_MONTH="none")
    async with Harness(settings, SimulatedProvider(settings.data_dir / "sim", render_seconds=0.1)) as h:
        first = await h.service.request_video(member(guild_id=10), prompt="one")  # sora-2, 4 s: $0.40
        assert first.accepted
        other = await h.service.request_video(member(user_id=2, guild_id=20, bypass=True), prompt="two")
        assert not other.accepted and "monthly spending limit" in other.message
        assert other.refusal == "bot_usd_per_month"
        assert len(await h.repo.recent_jobs(2, 20)) == 0, "nothing written for the refused request"
        await h.wait_for(first.job.id, "delivered")


class Undeliverable(RecordingPublisher):
    async def publish_result(self, job, video, caption):
        raise DeliveryRejected("the channel no longer exists")


async def test_an_undelivered_render_refunds_the_member_but_stays_in_the_servers_spend(tmp_path):
    settings = make_settings(tmp_path, QUOTA_USER_VIDEOS_PER_DAY="1", BOT_USD_PER_MONTH="100")
    async with Harness(settings, SimulatedProvider(settings.data_dir / "sim", render_seconds=0.1),
                       publisher=Undeliverable()) as h:
        out = await h.service.request_video(member(), prompt="into the void")
        job = await h.wait_for(out.job.id, "failed")
        assert job.error_code == "undeliverable"
        entry = await h.repo.ledger_entry(job.id)
        assert entry["status"] == "refunded" and entry["charged_usd"] == entry["usd"] == 0.4
        usage = await h.service.usage(member())
        assert usage.user_entries == (), "the member's quota is refunded"
        assert usage.guild_month_usd == Decimal("0.4") and usage.bot_month_usd == Decimal("0.4")
        again = await h.service.request_video(member(), prompt="second try")  # 1 a day: refunded
        assert again.accepted

