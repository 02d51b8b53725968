"""Input checks before anything is sent: each refusal has a code and words a member can act on."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.settings import Settings
from bot.sora.errors import InvalidRequest
from bot.sora.models import CreateVideo
from bot.sora.validate import (
    MIB,
    RequestLimits,
    image_mime,
    validate_image,
    validate_remix_prompt,
    validate_request,
)

LIMITS = {"allowed_models": ["sora-2", "sora-2-pro"], "allowed_sizes": ["720x1280", "1280x720"],
          "allowed_seconds": [4, 8, 12], "max_prompt_chars": 100, "max_image_bytes": 20 * MIB}


def picture(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(out, format=fmt)
    return out.getvalue()


def refusal(request: CreateVideo, **limits) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        validate_request(request, **{**LIMITS, **limits})
    return caught.value


def test_a_good_request_comes_back_normalized():
    request = CreateVideo(prompt="  a red kite \n", model="sora-2-pro", size="720x1280", seconds=8,
                          image=picture("PNG"), image_mime="image/jpeg")
    checked = validate_request(request, **LIMITS)
    assert checked.prompt == "a red kite"
    assert checked.image_mime == "image/png", "the type comes from the bytes, not the claim"
    assert (checked.model, checked.size, checked.seconds) == ("sora-2-pro", "720x1280", 8)


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_empty_prompt(prompt):
    error = refusal(CreateVideo(prompt=prompt))
    assert error.code == "prompt_empty"
    assert error.user_message.startswith("Prompt is empty")


def test_long_prompt_says_the_numbers():
    error = refusal(CreateVideo(prompt="x" * 1234), max_prompt_chars=1000)
    assert error.code == "prompt_too_long"
    assert "1,234" in error.user_message and "1,000" in error.user_message


def test_prompt_length_counts_after_stripping():
    assert validate_request(CreateVideo(prompt="  " + "x" * 100 + "  "), **LIMITS).prompt == "x" * 100


def test_model_not_allowed_names_the_choices():
    error = refusal(CreateVideo(prompt="a cat", model="sora-3"))
    assert error.code == "model_unavailable"
    assert error.user_message == "sora-3 isn't available here; choose sora-2 or sora-2-pro."


def test_size_not_allowed():
    error = refusal(CreateVideo(prompt="a cat", size="1920x1080"))
    assert error.code == "size_unavailable"
    assert error.user_message == "1920x1080 isn't an available size; choose 720x1280 or 1280x720."


def test_seconds_not_allowed():
    error = refusal(CreateVideo(prompt="a cat", seconds=10))
    assert error.code == "seconds_unavailable"
    assert error.user_message == "10 seconds isn't available; choose 4, 8 or 12 seconds."


def test_none_allows_any_value_but_not_zero_seconds():
    anything = {**LIMITS, "allowed_models": None, "allowed_sizes": None, "allowed_seconds": None}
    assert validate_request(CreateVideo(prompt="a", model="x", size="1x1", seconds=3), **anything).seconds == 3
    with pytest.raises(InvalidRequest):
        validate_request(CreateVideo(prompt="a", seconds=0), **anything)


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
def test_image_types_are_read_from_magic_bytes(fmt, mime):
    assert image_mime(picture(fmt)) == mime
    assert validate_image(picture(fmt), max_image_bytes=MIB) == mime


@pytest.mark.parametrize("data", [b"GIF89a" + bytes(20), b"<svg xmlns=...>", b"RIFF\x00\x00\x00\x00WAVE", b"\xff\xd8"])
def test_other_images_are_refused(data):
    error = refusal(CreateVideo(prompt="a cat", image=data, image_mime="image/png"))
    assert error.code == "image_type"
    assert error.user_message == "Images must be JPEG, PNG or WebP."


def test_empty_image():
    assert refusal(CreateVideo(prompt="a cat", image=b"")).code == "image_empty"


def test_image_too_large_says_the_sizes():
    data = b"\x89PNG\r\n\x1a\n" + bytes(25 * MIB)
    error = refusal(CreateVideo(prompt="a cat", image=data))
    assert error.code == "image_too_large"
    assert error.user_message == "The image is 25.0 MB; the limit is 20 MB."


def test_small_image_limits_are_said_in_bytes():
    error = refusal(CreateVideo(prompt="a cat", image=picture("PNG")), max_image_bytes=10)
    assert "the limit is 10 bytes" in error.user_message


def test_the_order_of_checks_reports_the_first_problem():
    error = refusal(CreateVideo(prompt=" ", model="sora-3", image=b"GIF89a"))
    assert error.code == "prompt_empty"


def test_remix_prompt():
    assert validate_remix_prompt("  make it night  ") == "make it night"
    with pytest.raises(InvalidRequest) as caught:
        validate_remix_prompt("   ")
    assert caught.value.code == "prompt_empty" and "change" in caught.value.user_message
    with pytest.raises(InvalidRequest) as caught:
        validate_remix_prompt("x" * 11, max_prompt_chars=10)
    assert caught.value.code == "prompt_too_long"


def test_refusals_are_not_sent_messages():
    error = refusal(CreateVideo(prompt=""))
    assert error.status_code is None, "our own check, not the provider's answer"
    assert "prompt_empty" in str(error)


def test_limits_from_settings():
    settings = Settings(_env_file=None, SORA_ALLOWED_MODELS="sora-2", SORA_ALLOWED_SECONDS="4,8",
                        SORA_MAX_PROMPT_CHARS=50, SORA_MAX_IMAGE_BYTES=1000)
    limits = RequestLimits.from_settings(settings)
    assert limits.allowed_models == ("sora-2",) and limits.allowed_seconds == (4, 8)
    assert limits.allowed_sizes == tuple(settings.sora_allowed_sizes)
    assert (limits.max_prompt_chars, limits.max_image_bytes) == (50, 1000)
    with pytest.raises(InvalidRequest):
        limits.check(CreateVideo(prompt="a cat", model="sora-2-pro"))
    assert limits.check(CreateVideo(prompt=" a cat ")).prompt == "a cat"
    with pytest.raises(InvalidRequest):
        limits.check_remix_prompt("x" * 51)


def test_default_limits_check_only_what_is_always_wrong():
    limits = RequestLimits()
    assert limits.check(CreateVideo(prompt="a", model="anything", seconds=5)).model == "anything"
    with pytest.raises(InvalidRequest):
        limits.check(CreateVideo(prompt=" "))
