"""ffmpeg reads only MP4-family files from disk (issue 12, item 7): an HLS playlist disguised as a
downloaded MP4, whose segment is another local file, must not make ffmpeg read that file."""

from __future__ import annotations

import subprocess

import pytest

from bot import media
from bot.media import check_inputs, encode_args, ffmpeg_path, file_input, plan_encode, run_ffmpeg


@pytest.fixture(params=["hls", "concat"])
def disguised_playlist(request, tmp_path):
    """A "download" that is a list naming another local file. The bundled ffmpeg detects a concat
    list by its content whatever the name; an HLS playlist by its content too in older builds (and
    in this one when the name ends in .m3u8), as an FFMPEG_BINARY may be."""
    secret = tmp_path / "secret" / "private.ts"
    secret.parent.mkdir()
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10", "-t", "1",
                    "-c:v", "mpeg2video", "-f", "mpegts", str(secret)], check=True)
    if request.param == "concat":
        playlist = tmp_path / "download.mp4"
        playlist.write_text("ffconcat version 1.0\nfile secret/private.ts\n")
    else:
        playlist = tmp_path / "download.m3u8"
        playlist.write_text(f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{secret}\n"
                            "#EXT-X-ENDLIST\n")
    return playlist


async def test_a_disguised_playlist_is_not_followed_when_transcoding(disguised_playlist, tmp_path):
    out = tmp_path / "out.mp4"
    plan = plan_encode(limit_bytes=1024 * 1024, duration=1.0, width=160, height=90, fps=10.0, has_audio=False)
    code, _ = await run_ffmpeg(encode_args(disguised_playlist, out, plan), timeout=60, what="transcode")
    assert code != 0, "ffmpeg must refuse the playlist, not transcode the local file it names"
    assert not out.exists() or out.stat().st_size == 0


async def test_a_disguised_playlist_is_not_read_when_probing(disguised_playlist):
    _, stderr = await run_ffmpeg(file_input(disguised_playlist), timeout=30, what="read", heavy=False)
    assert "Input #0, hls" not in stderr and "Input #0, concat" not in stderr and "private.ts" not in stderr
    with pytest.raises(media.MediaError):
        media.parse_ffmpeg_info(stderr, disguised_playlist, disguised_playlist.stat().st_size)


def test_every_input_needs_the_whitelist_and_a_format():
    check_inputs(["-y", *file_input("a.mp4"), "-f", "lavfi", "-i", "sine", "out.mp4"])
    with pytest.raises(ValueError, match="protocol_whitelist"):
        check_inputs(["-y", "-i", "a.mp4", "out.mp4"])
    with pytest.raises(ValueError):
        check_inputs(["-protocol_whitelist", "file", "-i", "a.mp4"])  # no forced format
    with pytest.raises(ValueError):
        check_inputs([*file_input("a.mp4"), "-i", "b.mp4"])  # the second input has neither


async def test_run_ffmpeg_refuses_an_unguarded_input(tmp_path):
    with pytest.raises(ValueError):
        await run_ffmpeg(["-i", str(tmp_path / "x.mp4"), "-f", "null", "-"], timeout=10, what="read")
