"""Hostile provider answers (issue 12, items 1-3): bounded downloads, bounded bodies, no SSRF.

The server is `bot.sandbox.fake_providers.hostile.HostileServer` on loopback; its first port is the base URL's
origin (trusted), its second port is "somewhere else". Nothing here reaches beyond 127.0.0.1: URLs
on other hosts are refused before any connection, and host names are resolved by an injected resolver.
"""

from __future__ import annotations

import os
import tracemalloc

import httpcore
import pytest

from bot.sandbox.fake_providers.hostile import HostileServer
from bot.sora.bounded import DownloadLimits
from bot.sora.client import HttpVideoProvider
from bot.sora.dialects import OPENAI
from bot.sora.errors import DownloadFailed, SoraError, UnknownOutcome
from bot.sora.models import CreateVideo, Video, VideoState
from bot.sora.retry import RetryPolicy
from bot.sora.safety import DownloadGuard, GuardedNetworkBackend, RefusedURL, is_public_address

KEY = "sk-hostile-test-key-0123456789"
PAYLOAD = os.urandom(300 * 1024)
FAST = RetryPolicy(max_attempts=1)


@pytest.fixture
async def server():
    async with HostileServer(PAYLOAD) as s:
        yield s


def provider_for(server: HostileServer, **kw) -> HttpVideoProvider:
    return HttpVideoProvider(base_url=server.base_url, api_key=KEY, profile=OPENAI, retry=FAST, timeout=5.0, **kw)


def done(url: str) -> Video:
    return Video(id="video_1", state=VideoState.COMPLETED, download_url=url)


def leftovers(tmp_path) -> list:
    return [p for p in tmp_path.rglob("*") if p.is_file()]


# --- 1. downloads are bounded -------------------------------------------------------------------

async def test_gzip_encoded_download_is_refused_not_inflated(server, tmp_path):
    async with provider_for(server) as provider:
        with pytest.raises(DownloadFailed):
            await provider.download(done(server.origin + "/files/gzip"), tmp_path / "v.mp4")
    assert leftovers(tmp_path) == [], "nothing of the 32 MiB the body inflates to was written"
    assert server.requests[-1].headers.get("Accept-Encoding") == "identity"


async def test_content_length_over_the_cap_is_refused_before_the_body(server, tmp_path):
    async with provider_for(server, download_limits=DownloadLimits(max_bytes=1024 * 1024)) as provider:
        with pytest.raises(DownloadFailed, match="announces"):
            await provider.download(done(server.origin + "/files/length-lie"), tmp_path / "v.mp4")
    assert leftovers(tmp_path) == []


async def test_written_bytes_over_the_cap_stop_the_download(server, tmp_path):
    async with provider_for(server, download_limits=DownloadLimits(max_bytes=2 * 1024 * 1024)) as provider:
        with pytest.raises(DownloadFailed, match="cap"):
            await provider.download(done(server.origin + "/files/endless"), tmp_path / "v.mp4")
    assert leftovers(tmp_path) == []


async def test_the_cap_leaves_the_disk_reserve_free(server, tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 10**12 - 400 * 1024, 400 * 1024))
    limits = DownloadLimits(max_bytes=10**9, disk_reserve_bytes=300 * 1024)  # room for 100 KiB only
    async with provider_for(server, download_limits=limits) as provider:
        with pytest.raises(DownloadFailed):
            await provider.download(done(server.origin + "/files/ok"), tmp_path / "v.mp4")
    assert leftovers(tmp_path) == []


async def test_a_trickle_is_stopped_at_the_deadline(server, tmp_path):
    async with provider_for(server, download_limits=DownloadLimits(deadline_seconds=1.0)) as provider:
        with pytest.raises(DownloadFailed, match="longer than"):
            await provider.download(done(server.origin + "/files/trickle"), tmp_path / "v.mp4")
    assert leftovers(tmp_path) == []


async def test_a_broken_download_resumes_with_range(server, tmp_path):
    dest = tmp_path / "v.mp4"
    async with provider_for(server) as provider:
        assert await provider.download(done(server.origin + "/files/resumable"), dest) == len(PAYLOAD)
    assert dest.read_bytes() == PAYLOAD
    ranges = [r.headers.get("Range") for r in server.requests if r.path == "/files/resumable"]
    assert ranges[0] is None and ranges[1] == f"bytes={len(PAYLOAD) // 2}-"


async def test_without_accept_ranges_a_broken_download_is_not_resumed(server, tmp_path):
    server.ranges = False
    async with provider_for(server) as provider:
        with pytest.raises(DownloadFailed):
            await provider.download(done(server.origin + "/files/resumable"), tmp_path / "v.mp4")
    assert leftovers(tmp_path) == []


# --- 2. other answers are bounded ---------------------------------------------------------------

async def test_an_oversized_json_answer_is_cut_not_parsed(server):
    server.video_json = {"id": "video_1", "status": "completed", "padding": "x" * (2 * 1024 * 1024)}
    async with provider_for(server) as provider:
        with pytest.raises(SoraError, match="other than JSON"):
            await provider.retrieve("video_1")


async def test_a_gzip_bomb_error_body_stays_small_in_memory(server, tmp_path):
    server.gzip_inflated = 64 * 1024 * 1024
    async with provider_for(server) as provider:
        tracemalloc.start()
        try:
            with pytest.raises(SoraError):
                await provider.download(done(server.origin + "/files/error400-gzip"), tmp_path / "v.mp4")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak {peak} bytes: the 64 MiB body was inflated"


async def test_a_create_whose_answer_breaks_off_is_an_unknown_outcome(server):
    async with provider_for(server) as provider:
        with pytest.raises(UnknownOutcome):  # it may exist upstream: never resent blindly
            await provider.create(CreateVideo(prompt="a fox"))
    assert sum(1 for r in server.requests if r.path == "/v1/videos") == 1


async def test_a_gzipped_json_answer_is_still_read(server):
    server.json_gzip = True
    async with provider_for(server) as provider:
        video = await provider.retrieve("video_1")
    assert video.state is VideoState.COMPLETED


# --- 3. no SSRF ----------------------------------------------------------------------------------

async def test_the_base_origin_is_trusted_and_gets_the_key(server, tmp_path):
    async with provider_for(server) as provider:
        assert await provider.download(done(server.origin + "/files/ok"), tmp_path / "v.mp4") == len(PAYLOAD)
    assert server.requests[-1].headers.get("Authorization") == f"Bearer {KEY}"


async def test_plain_http_elsewhere_is_refused_without_a_request(server, tmp_path):
    async with provider_for(server) as provider:
        with pytest.raises(RefusedURL):
            await provider.download(done(server.other + "/files/ok"), tmp_path / "v.mp4")
    assert server.seen(server.other) == []


async def test_a_redirect_to_another_origin_is_checked_again(server, tmp_path):
    target = server.other + "/files/ok"
    async with provider_for(server) as provider:
        with pytest.raises(RefusedURL):
            await provider.download(done(f"{server.origin}/redirect?to={target}"), tmp_path / "v.mp4")
    assert server.seen(server.other) == [], "the second hop was refused before connecting"


async def test_an_operator_trusted_origin_is_fetched_without_the_key(server, tmp_path):
    async with provider_for(server, trusted_origins=[server.other]) as provider:
        assert await provider.download(done(server.other + "/files/ok"), tmp_path / "v.mp4") == len(PAYLOAD)
    assert "Authorization" not in server.seen(server.other)[-1].headers


@pytest.mark.parametrize("url", ["https://10.1.2.3/v.mp4", "https://169.254.169.254/latest/meta-data",
                                 "https://[::1]/v.mp4", "https://[::ffff:127.0.0.1]/v.mp4", "https://0.0.0.0/v.mp4",
                                 "ftp://example.com/v.mp4", "file:///etc/passwd"])
async def test_internal_literals_and_other_schemes_are_refused(server, tmp_path, url):
    async with provider_for(server) as provider:
        with pytest.raises(RefusedURL):
            await provider.download(done(url), tmp_path / "v.mp4")


async def test_a_host_name_resolving_to_loopback_is_refused(server, tmp_path):
    port = int(server.other.rsplit(":", 1)[1])
    resolved: list[str] = []

    async def resolver(host: str, p: int) -> list[str]:
        resolved.append(host)
        return ["203.0.113.9", "127.0.0.1"]  # one internal answer is enough to refuse

    async with provider_for(server, resolver=resolver) as provider:
        with pytest.raises(RefusedURL):
            await provider.download(done(f"https://videos.example:{port}/files/ok"), tmp_path / "v.mp4")
    assert resolved == ["videos.example"]
    assert server.seen(server.other) == []


async def test_refused_and_failing_hosts_never_reach_the_member(server, tmp_path):
    async with provider_for(server) as provider:
        with pytest.raises(SoraError) as failing:
            await provider.download(done(server.origin + "/files/error400"), tmp_path / "v.mp4")
        with pytest.raises(RefusedURL) as refused:
            await provider.download(done("https://10.9.9.9/evil.example"), tmp_path / "v.mp4")
    for caught in (failing.value, refused.value):
        assert "evil" not in caught.user_message and "10.9.9.9" not in caught.user_message
    assert isinstance(failing.value, DownloadFailed)


# --- the pinned connection (DNS rebinding) --------------------------------------------------------

class RecordingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.connected: list[str] = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connected.append(host)
        raise httpcore.ConnectError("recorded, not connected")

    async def sleep(self, seconds: float) -> None:
        return None


async def test_the_connection_goes_to_the_address_that_was_checked():
    answers = [["93.184.215.14"], ["127.0.0.1"]]  # a rebinding DNS: public first, loopback after

    async def resolver(host: str, port: int) -> list[str]:
        return answers.pop(0)

    inner = RecordingBackend()
    backend = GuardedNetworkBackend(DownloadGuard([], resolver=resolver), inner)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("cdn.example", 443)
    assert inner.connected == ["93.184.215.14"], "connected to the checked IP, not to a second lookup"
    with pytest.raises(RefusedURL):
        await backend.connect_tcp("cdn.example", 443)  # the next connection resolves and checks again
    assert inner.connected == ["93.184.215.14"]


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2606:4700::1111", True), ("127.0.0.1", False), ("10.0.0.1", False),
    ("172.16.5.5", False), ("192.168.1.1", False), ("169.254.169.254", False), ("100.64.0.1", False),
    ("224.0.0.1", False), ("240.0.0.1", False), ("0.0.0.0", False), ("::1", False), ("fe80::1", False),  # noqa: S104
    ("fc00::1", False), ("::ffff:10.0.0.1", False), ("ff02::1", False), ("not-an-ip", False)])
def test_public_address_policy(address, public):
    assert is_public_address(address) is public


async def test_the_older_fetch_name_still_downloads_through_the_guard(server, tmp_path):
    """Dialect subclasses call `_fetch(url, dest, auth=..., expired=..., params=...)`."""
    async with provider_for(server) as provider:
        size = await provider._fetch(server.origin + "/v1/videos/video_1/content", tmp_path / "v.mp4", auth=True,
                                     expired=frozenset({404}), params={"index": "0"})
        assert size == len(PAYLOAD) and server.requests[-1].path.endswith("/content?index=0")
        with pytest.raises(RefusedURL):
            await provider._fetch(server.other + "/files/ok", tmp_path / "w.mp4", auth=False,
                                  expired=frozenset({404}))
