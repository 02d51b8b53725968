"""bot.sora.shapes: the canonical WxH size and its (resolution, aspect ratio) spelling."""

import pytest

from bot.sora.shapes import label, parse_size, resolution_and_aspect, size_for


@pytest.mark.parametrize(("resolution", "aspect", "size"), [
    ("720p", "16:9", "1280x720"), ("720p", "9:16", "720x1280"), ("1080p", "16:9", "1920x1080"),
    ("1080p", "9:16", "1080x1920"), ("4K", "16:9", "3840x2160"), ("720p", "1:1", "720x720"),
    ("720p", "4:3", "960x720"), ("480p", "21:9", "1120x480"), ("2K", "16:9", "2560x1440"),
])
def test_size_for_names_the_short_side(resolution, aspect, size):
    assert size_for(resolution, aspect) == size
    assert resolution_and_aspect(size) == (resolution, aspect)


def test_resolution_and_aspect_searches_only_the_given_lists():
    assert resolution_and_aspect("1280x720", ["1080p"], ["16:9"]) is None
    assert resolution_and_aspect("1280x720", ["720p", "1080p"], ["9:16", "16:9"]) == ("720p", "16:9")
    assert resolution_and_aspect("1234x567") is None
    assert resolution_and_aspect("not a size") is None


@pytest.mark.parametrize("bad", ["", "1280", "0x720", "1280x0", "axb", "123456x1"])
def test_parse_size_refuses_what_is_not_a_size(bad):
    with pytest.raises(ValueError, match="size"):
        parse_size(bad)


@pytest.mark.parametrize(("resolution", "aspect"), [("9000p", "16:9"), ("720p", "0:9"), ("720p", "wide")])
def test_size_for_refuses_unknown_names(resolution, aspect):
    with pytest.raises(ValueError):
        size_for(resolution, aspect)


def test_label_adds_the_shape_when_known():
    assert label("1280x720") == "1280×720 (16:9 · 720p)"
    assert label("1234x567") == "1234×567"
    assert label("junk") == "junk"
