"""Tolerant parsing and the dialect profiles: each dialect's documented payloads (the seeds), the
shapes relays bend them into, and HTTP error bodies into typed errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.sora.dialects import JUHEAPI, OPENAI, XINGCHAOYIQING, CreateEncoding, profile_for
from bot.sora.errors import (
    AuthenticationFailed,
    ContentPolicyRejected,
    InvalidRequest,
    NotFound,
    OperationUnsupported,
    ProviderUnavailable,
    RateLimited,
    RemixUnsupported,
    SoraError,
)
from bot.sora.models import Variant, VideoState
from bot.sora.parse import error_from_response, parse_video, parse_video_list, video_error

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def ts(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


# --- seed 001: OpenAI's guide, verbatim ---------------------------------------------------------------

SEED_001_QUEUED = {
    "id": "video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5", "object": "video",
    "created_at": 1758941485, "status": "queued", "model": "sora-2-pro", "progress": 0,
    "seconds": "8", "size": "1280x720",
}
SEED_001_IN_PROGRESS = {**SEED_001_QUEUED, "status": "in_progress", "progress": 33}


def test_seed_001_openai_queued():
    video = parse_video(SEED_001_QUEUED, OPENAI)
    assert video.id == SEED_001_QUEUED["id"]
    assert video.state is VideoState.QUEUED
    assert (video.progress, video.seconds, video.size, video.model) == (0, 8.0, "1280x720", "sora-2-pro")
    assert video.created_at == ts(1758941485)
    assert video.error is None and video.download_url is None and video.expires_at is None


def test_seed_001_openai_in_progress():
    video = parse_video(SEED_001_IN_PROGRESS, OPENAI)
    assert (video.state, video.progress) == (VideoState.RUNNING, 33)
    assert not video.finished


def test_openapi_examples_with_unknown_fields_and_remix():
    created = parse_video({"id": "video_123", "object": "video", "model": "sora-2", "status": "queued",
                           "progress": 0, "created_at": 1712697600, "size": "1024x1792", "seconds": "8",
                           "quality": "standard"}, OPENAI)
    assert created.size == "1024x1792"
    remix = parse_video({"id": "video_456", "object": "video", "model": "sora-2", "status": "queued",
                         "progress": 0, "created_at": 1712698600, "size": "720x1280", "seconds": "8",
                         "remixed_from_video_id": "video_123"}, OPENAI)
    assert remix.remixed_from == "video_123"


def test_openai_completed_with_every_field_and_nulls():
    video = parse_video({"id": "video_1", "object": "video", "model": "sora-2", "status": "completed",
                         "progress": 100, "created_at": 1758941485, "completed_at": 1758941600,
                         "expires_at": 1758945200, "prompt": "a cat", "size": "720x1280", "seconds": "4",
                         "remixed_from_video_id": None, "error": None}, OPENAI)
    assert video.state is VideoState.COMPLETED and video.finished
    assert video.completed_at == ts(1758941600)
    assert video.expires_at == ts(1758945200), "the provider's expiry wins over the default"
    assert video.prompt == "a cat" and video.remixed_from is None and video.error is None


def test_openai_failed_with_moderation_error():
    video = parse_video({"id": "video_1", "status": "failed", "progress": 0,
                         "error": {"code": "moderation_blocked",
                                   "message": "Your request was blocked by our moderation system."}}, OPENAI)
    assert video.state is VideoState.FAILED
    assert video.error is not None and video.error.content_policy and video.error.code == "moderation_blocked"
    assert video.error.message.startswith("The video service's safety system refused this request")
    assert "blocked by our moderation system" in video.error.message


# --- seed 000: xingchaoyiqing's status page (fields as documented there) --------------------------------

SEED_000_COMPLETED = {
    "id": "sora_abc123def456", "object": "video.generation", "created": 1758941485,
    "model": "openAiSora2Plus", "status": "completed",
    "video_url": "https://cdn.xingchaoyiqing.example/sora_abc123def456.mp4?sig=abc", "actualDuration": 8,
}


def test_seed_000_xingchaoyiqing_completed():
    video = parse_video(SEED_000_COMPLETED, XINGCHAOYIQING, now=NOW)
    assert video.state is VideoState.COMPLETED
    assert video.model == "sora-2", "openAiSora2Plus is our sora-2"
    assert video.seconds == 8.0
    assert video.created_at == ts(1758941485)
    assert video.download_url == SEED_000_COMPLETED["video_url"]
    assert video.progress is None, "this relay reports no progress"
    assert video.expires_at == NOW + timedelta(days=1), "valid 1 day when nothing else is said"


@pytest.mark.parametrize(("word", "state"), [("queued", VideoState.QUEUED), ("processing", VideoState.RUNNING),
                                             ("completed", VideoState.COMPLETED), ("failed", VideoState.FAILED)])
def test_seed_000_xingchaoyiqing_status_flow(word, state):
    assert parse_video({"id": "sora_1", "status": word, "model": "openAiSora2Pro"}, XINGCHAOYIQING).state is state


def test_seed_000_xingchaoyiqing_failed_with_a_plain_string():
    video = parse_video({"id": "sora_1", "status": "failed", "error": "Upstream render error (code 17)"},
                        XINGCHAOYIQING)
    assert video.error is not None
    assert video.error.message == "Upstream render error (code 17)"
    assert video.error.code is None and not video.error.content_policy


# --- seed 002: juheapi's status page (fields as documented there) --------------------------------------

SEED_002_COMPLETED = {
    "id": "video_abc", "object": "video", "status": "completed", "progress": 100, "created_at": 1758941485,
    "completed_at": 1758941700, "expires_at": 1759028100, "error": None, "model": "sora-2",
    "meta_data": {"url": "https://files.juheapi.example/video_abc.mp4"}, "remixed_from_video_id": "video_src",
    "seconds": 12, "size": "1792x1024",
}


def test_seed_002_juheapi_completed():
    video = parse_video(SEED_002_COMPLETED, JUHEAPI)
    assert video.state is VideoState.COMPLETED
    assert video.download_url == "https://files.juheapi.example/video_abc.mp4"
    assert video.expires_at == ts(1759028100) and video.completed_at == ts(1758941700)
    assert video.remixed_from == "video_src"
    assert video.seconds == 12.0, "a number as well as a string"


def test_seed_002_juheapi_processing_and_null_meta_data():
    video = parse_video({"id": "video_abc", "status": "processing", "progress": 45, "meta_data": None,
                         "completed_at": None, "error": None}, JUHEAPI)
    assert (video.state, video.progress, video.download_url, video.completed_at) == (
        VideoState.RUNNING, 45, None, None)


def test_seed_002_juheapi_failed_for_usage_policies():
    video = parse_video({"id": "video_abc", "status": "failed",
                         "error": {"message": "The prompt may violate OpenAI's usage policies"}}, JUHEAPI)
    assert video.error is not None and video.error.content_policy


# --- tolerance --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("word", "state"), [
    ("in_progress", VideoState.RUNNING), ("PROCESSING", VideoState.RUNNING), ("pending", VideoState.QUEUED),
    ("succeeded", VideoState.COMPLETED), ("success", VideoState.COMPLETED), ("error", VideoState.FAILED),
    ("cancelled", VideoState.FAILED),
])
def test_state_synonyms(word, state):
    assert parse_video({"id": "v", "status": word}, OPENAI).state is state


def test_unknown_state_word_keeps_polling(caplog):
    assert parse_video({"id": "v", "status": "rendering_hd"}, OPENAI).state is VideoState.RUNNING
    assert "rendering_hd" in caplog.text


def test_missing_state_is_inferred():
    assert parse_video({"id": "v"}, OPENAI).state is VideoState.QUEUED
    assert parse_video({"id": "v", "url": "https://x/v.mp4"}, OPENAI).state is VideoState.COMPLETED
    assert parse_video({"id": "v", "error": "boom"}, OPENAI).state is VideoState.FAILED


def test_failed_without_an_error_still_says_something():
    video = parse_video({"id": "v", "status": "failed", "error": None}, OPENAI)
    assert video.error is not None and video.error.message


def test_an_error_on_a_job_that_did_not_fail_is_ignored():
    assert parse_video({"id": "v", "status": "in_progress", "error": {"message": "x"}}, OPENAI).error is None


@pytest.mark.parametrize(("data", "seconds"), [
    ({"seconds": "8"}, 8.0), ({"seconds": 12}, 12.0), ({"actualDuration": 4.04}, 4.04), ({"duration": "8s"}, 8.0),
    ({"seconds": None, "duration": 4}, 4.0), ({"seconds": "eight"}, None), ({"seconds": True}, None), ({}, None),
])
def test_seconds_synonyms(data, seconds):
    assert parse_video({"id": "v", **data}, OPENAI).seconds == seconds


@pytest.mark.parametrize(("value", "expected"), [
    (1758941485, ts(1758941485)), ("1758941485", ts(1758941485)), (1758941485123, ts(1758941485) + timedelta(
        milliseconds=123)), ("2025-09-27T02:51:25Z", ts(1758941485)), (None, None), (0, None), ("garbage", None),
])
def test_created_timestamps(value, expected):
    assert parse_video({"id": "v", "created_at": value}, OPENAI).created_at == expected
    assert parse_video({"id": "v", "created": value}, OPENAI).created_at == expected


@pytest.mark.parametrize(("data", "url"), [
    ({"video_url": "https://a/1.mp4"}, "https://a/1.mp4"),
    ({"meta_data": {"url": "https://b/2.mp4"}}, "https://b/2.mp4"),
    ({"metadata": {"url": "https://c/3.mp4"}}, "https://c/3.mp4"),
    ({"url": "https://d/4.mp4"}, "https://d/4.mp4"),
    ({"video_url": None, "meta_data": {"url": ""}}, None),
])
def test_download_url_synonyms(data, url):
    assert parse_video({"id": "v", "status": "completed", **data}, OPENAI).download_url == url


def test_progress_is_clamped_and_read_from_text():
    assert parse_video({"id": "v", "progress": "45%"}, OPENAI).progress == 45
    assert parse_video({"id": "v", "progress": 140}, OPENAI).progress == 100
    assert parse_video({"id": "v", "progress": -3}, OPENAI).progress == 0


def test_size_from_width_and_height_or_star():
    assert parse_video({"id": "v", "width": 720, "height": 1280}, OPENAI).size == "720x1280"
    assert parse_video({"id": "v", "size": "1280*720"}, OPENAI).size == "1280x720"


def test_relay_envelope_is_unwrapped():
    video = parse_video({"code": 0, "msg": "ok", "data": {"id": "sora_9", "status": "processing"}}, XINGCHAOYIQING)
    assert (video.id, video.state) == ("sora_9", VideoState.RUNNING)


@pytest.mark.parametrize("data", [{}, {"id": ""}, {"id": None, "status": "queued"}, ["video_1"], "video_1"])
def test_no_id_is_an_error(data):
    with pytest.raises(SoraError):
        parse_video(data, OPENAI)


def test_poll_hint_from_headers():
    assert parse_video({"id": "v"}, OPENAI, headers={"openai-poll-after-ms": "3000"}).poll_after_seconds == 3.0


def test_job_error_text_is_scrubbed_of_the_key():
    error = video_error("key sk-secret-123456789 was over quota", secrets=["sk-secret-123456789"])
    assert error is not None and "sk-secret" not in error.message


@pytest.mark.parametrize(("raw", "code", "policy"), [
    ({"code": "content_policy_violation", "message": "Rejected."}, "content_policy_violation", True),
    ({"type": "safety", "msg": "nope"}, "safety", True),
    ({"error": {"code": "internal", "message": "Renderer crashed"}}, "internal", False),
    ("Your prompt was flagged as inappropriate", None, True),
    ("GPU out of memory", None, False),
    ({"message": "Timeout while rendering", "code": 504}, "504", False),
])
def test_job_error_shapes(raw, code, policy):
    error = video_error(raw)
    assert error is not None and (error.code, error.content_policy) == (code, policy)


def test_absent_job_errors():
    assert video_error(None) is None and video_error("") is None and video_error({}) is None


def test_list_page_skips_unreadable_items():
    videos, has_more = parse_video_list({"object": "list", "data": [{"id": "video_2", "status": "completed"},
                                                                    {"status": "queued"}], "has_more": True},
                                        OPENAI)
    assert [v.id for v in videos] == ["video_2"] and has_more
    assert parse_video_list([{"id": "a"}], OPENAI) == (parse_video_list({"data": [{"id": "a"}]}, OPENAI)[0], False)
    with pytest.raises(SoraError):
        parse_video_list({"object": "list"}, OPENAI)


# --- HTTP error bodies ------------------------------------------------------------------------------

HEADERS = {"x-request-id": "req_abc"}


def test_openai_error_object():
    body = (b'{"error": {"message": "Invalid value: \'1920x1080\'.", "type": "invalid_request_error",'
            b' "param": "size", "code": "invalid_value"}}')
    error = error_from_response(400, body, HEADERS)
    assert type(error) is InvalidRequest
    assert (error.status_code, error.code, error.request_id) == (400, "invalid_value", "req_abc")
    assert "1920x1080" in error.message and "1920x1080" in error.user_message


def test_policy_400_is_content_policy_rejected():
    body = (b'{"error": {"message": "Your request was rejected by the safety system.",'
            b' "type": "invalid_request_error", "code": "moderation_blocked"}}')
    error = error_from_response(400, body, HEADERS)
    assert isinstance(error, ContentPolicyRejected)
    assert "rejected by the safety system" in error.user_message


@pytest.mark.parametrize(("body", "message", "code"), [
    (b'{"error": "model must be one of openAiSora2Plus"}', "model must be one of openAiSora2Plus", None),
    (b'{"message": "bad size", "code": 40001}', "bad size", "40001"),
    (b'{"error": {"message": "no", "type": "invalid_request_error"}}', "no", "invalid_request_error"),
    (b'"just a string"', "just a string", None),
    (b"Bad Request: prompt missing", "Bad Request: prompt missing", None),
    (b"", "Bad Request", None),
    (b"[1, 2]", "[1, 2]", None),
])
def test_error_body_shapes(body, message, code):
    error = error_from_response(400, body)
    assert (error.message, error.code) == (message, code)


@pytest.mark.parametrize(("status", "kind"), [
    (401, AuthenticationFailed), (403, AuthenticationFailed), (404, NotFound), (410, NotFound),
    (429, RateLimited), (408, ProviderUnavailable), (500, ProviderUnavailable), (503, ProviderUnavailable),
    (422, InvalidRequest), (418, SoraError),
])
def test_status_mapping(status, kind):
    assert type(error_from_response(status, b"{}")) is kind


def test_rate_limited_carries_retry_after():
    error = error_from_response(429, b"{}", {"Retry-After": "12"})
    assert isinstance(error, RateLimited) and error.retry_after == 12.0


def test_the_key_never_reaches_an_error():
    key = "sk-live-abcdefghijklmnop"
    error = error_from_response(401, f'{{"error": {{"message": "Incorrect API key provided: {key}"}}}}'.encode(),
                                secrets=[key])
    assert key not in str(error) and key not in error.user_message


def test_long_provider_text_is_shortened():
    assert len(error_from_response(500, b"x" * 5000).message) <= 300


# --- dialect profiles ----------------------------------------------------------------------------

def test_built_in_profiles():
    assert OPENAI.create_encoding is CreateEncoding.MULTIPART and OPENAI.has("remix")
    assert OPENAI.content_variants == frozenset(Variant)
    assert JUHEAPI.content_variants == {Variant.VIDEO}
    assert XINGCHAOYIQING.create_encoding is CreateEncoding.JSON
    assert XINGCHAOYIQING.create_fields["seconds"] == "duration"
    assert not any(XINGCHAOYIQING.has(e) for e in ("remix", "list", "delete", "content"))
    assert XINGCHAOYIQING.url_ttl_seconds == 86400
    assert all(p.idempotency_header is None for p in (OPENAI, JUHEAPI, XINGCHAOYIQING))


def test_paths_and_ids():
    assert OPENAI.path("status", "video_1") == "/videos/video_1"
    assert OPENAI.path("content", "a/b?c") == "/videos/a%2Fb%3Fc/content", "ids cannot escape the path"
    assert XINGCHAOYIQING.path("create") == "/sora/videos"
    with pytest.raises(RemixUnsupported):
        XINGCHAOYIQING.path("remix", "sora_1")
    with pytest.raises(OperationUnsupported):
        XINGCHAOYIQING.path("list")
    with pytest.raises(ValueError):
        OPENAI.path("status", " ")


def test_model_names_both_ways():
    assert XINGCHAOYIQING.provider_model("sora-2-pro") == "openAiSora2Pro"
    assert XINGCHAOYIQING.our_model("openAiSora2Plus") == "sora-2"
    assert OPENAI.provider_model("sora-2") == "sora-2" and OPENAI.our_model("sora-2-2025-10-06") == "sora-2-2025-10-06"


def test_profile_for_merges_settings_overrides():
    profile = profile_for("xingchaoyiqing", {"status": "/result/{id}", "content": "/result/{id}/file"},
                          {"sora-2": "sora2-fast"})
    assert profile.path("status", "sora_1") == "/result/sora_1"
    assert profile.content_variants == {Variant.VIDEO}, "a configured /content serves the video"
    assert profile.provider_model("sora-2") == "sora2-fast" and profile.our_model("sora2-fast") == "sora-2"
    assert profile.provider_model("sora-2-pro") == "openAiSora2Pro", "the other names stay"
    assert XINGCHAOYIQING.path("status", "x") == "/videos/x", "the built-in profile is untouched"


def test_profile_for_can_switch_an_endpoint_off():
    profile = profile_for("openai", {"remix": "", "content": "none"})
    assert not profile.has("remix") and profile.content_variants == frozenset()


@pytest.mark.parametrize(("overrides", "words"), [
    ({"stauts": "/x/{id}"}, "unknown endpoint"),
    ({"status": "result/{id}"}, "start with '/'"),
    ({"status": "/result"}, "{id}"),
    ({"create": "/videos/{id}"}, "takes no {id}"),
])
def test_profile_for_refuses_bad_overrides(overrides, words):
    with pytest.raises(ValueError, match="SORA_PATHS") as caught:
        profile_for("openai", overrides)
    assert words in str(caught.value)


def test_profile_for_unknown_dialect():
    with pytest.raises(ValueError, match="no HTTP dialect"):
        profile_for("simulated")


def test_profiles_are_read_only():
    with pytest.raises(TypeError):
        OPENAI.paths["status"] = "/x/{id}"  # type: ignore[index]
