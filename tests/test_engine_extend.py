"""Extensions through the engine against the fake relay: faults lose nothing and charge nothing twice.
A create whose answer was lost is found again (never resent), a refusal upstream is refunded, a
source that vanished is refunded, and refusals before sending write nothing."""

from __future__ import annotations

from bot.engine.controls import extend, parse_length
from bot.sora.factory import build_provider
from bot.sora.retry import RetryPolicy
from tests.engine_harness import Harness, make_settings, member
from tests.fakes.relay import FakeRelay


def relay_settings(tmp_path, relay: FakeRelay, dialect: str = "openai", **more):
    return make_settings(tmp_path, SORA_PROVIDER=dialect, SORA_BASE_URL=relay.base_url, SORA_API_KEY="k",
                         SORA_TRUSTED_ORIGINS=relay.cdn_origin, **more)


async def delivered_source(h: Harness, prompt: str = "a kite"):
    out = await h.service.request_video(member(), prompt=prompt, seconds=4)
    return await h.wait_for(out.job.id, "delivered")


async def test_an_extension_whose_answer_was_lost_is_found_again_not_resent(tmp_path):
    async with FakeRelay(dialect="openai", api_key="k", render_seconds=0.3) as relay:
        settings = relay_settings(tmp_path, relay)
        async with Harness(settings, build_provider(settings, retry=RetryPolicy(max_attempts=1))) as h:
            source = await delivered_source(h)
            relay.server_error(1, kind="extend", after_processing=True)  # made upstream, the answer a 500
            out = await h.service.request_extension(member(user_id=2), source, "it climbs", 8)
            assert out.accepted
            job = await h.wait_for(out.job.id, "delivered")
            assert relay.extend_count == 1 and relay.count("extend") == 1  # reconciled from the list
            assert job.duration is not None and abs(job.duration - 12) < 0.6
            entry = await h.repo.ledger_entry(job.id)
            assert entry["status"] == "settled" and entry["seconds"] == 8
            [extended] = [p for p in h.publisher.results if p.job_id == job.id]
            assert "extension of" in extended.text


async def test_an_extension_refused_upstream_or_orphaned_is_refunded(tmp_path):
    async with FakeRelay(dialect="openai", api_key="k", render_seconds=0.3) as relay:
        settings = relay_settings(tmp_path, relay)
        async with Harness(settings, build_provider(settings, retry=RetryPolicy(max_attempts=1))) as h:
            source = await delivered_source(h)
            relay.jobs[source.provider_id].deleted = True  # gone at the relay: it answers 404
            out = await h.service.request_extension(member(user_id=2), source, "it climbs", 4)
            job = await h.wait_for(out.job.id, "failed")
            assert (await h.repo.ledger_entry(job.id))["status"] == "refunded" and relay.extend_count == 0

            await h.repo.update(source.id, provider_id=None)  # and a source we no longer know upstream
            source = await h.repo.get_job(source.id)
            refused = await h.service.request_extension(member(user_id=2), source, "it climbs", 4)
            assert not refused.accepted and "can't extend" in refused.message


async def test_refusals_before_sending_write_nothing(tmp_path):
    async with FakeRelay(dialect="openai", api_key="k", render_seconds=0.3) as relay:
        settings = relay_settings(tmp_path, relay, QUOTA_USER_VIDEOS_PER_DAY=1)
        async with Harness(settings, build_provider(settings)) as h:
            source = await delivered_source(h)
            cases = [(member(), "more", "8"),  # over quota: one video a day
                     (member(user_id=2), "more", "6"),  # not an extension length
                     (member(user_id=2), "   ", "4"),  # nothing said
                     (member(user_id=2, guild_id=11), "more", "4")]  # another server's video
            for who, words, length in cases:
                out = await extend(h.service, who, source, words, length, reply_to=None)
                assert not out.accepted, (who, words, length)
            assert relay.extend_count == 0 and await h.repo.get_job(source.id + 1) is None


async def test_juheapi_without_the_endpoint_refuses_up_front(tmp_path):
    async with FakeRelay(dialect="juheapi", api_key="k", render_seconds=0.3) as relay:
        settings = relay_settings(tmp_path, relay, "juheapi")
        async with Harness(settings, build_provider(settings)) as h:
            source = await delivered_source(h)
            assert not h.service.extendable(source)
            out = await h.service.request_extension(member(user_id=2), source, "it climbs", 4)
            assert not out.accepted and "can't be extended" in out.message and relay.count("extend") == 0


def test_typed_lengths():
    assert [parse_length(t) for t in ("8", " 8s ", "12 seconds", "8 秒", "８", "eight", "", "99999")] == [
        8, 8, 12, 8, 8, None, None, None]
