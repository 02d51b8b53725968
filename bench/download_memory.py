"""Benchmark: how much memory `HttpVideoProvider.download` takes to stream a large video to disk.

The fake relay runs in a child process and serves an MP4 of exactly `--mb` MiB (generated while it
streams). This process creates a job, then downloads it while a thread samples its resident set
(VmRSS) every 2 ms; where the kernel allows, the high-water mark (VmHWM) is also reset before the
download and read after it. Prints one JSON document; exits 1 when the growth misses the target.

    python bench/download_memory.py                  # 100 MiB through the openai dialect's /content
    python bench/download_memory.py --dialect juheapi --mb 200   # a direct (meta_data.url) download
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.sandbox.fake_providers.relay import FakeRelay
from bot.sora.client import HttpVideoProvider
from bot.sora.dialects import profile_for
from bot.sora.models import CreateVideo

MIB = 1024 * 1024
TARGET_MB = 30.0
KEY = "bench-key-0123456789"


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_high_water_mark() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler(threading.Thread):
    def __init__(self, interval: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_kb = _status_kb("VmRSS")
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_kb = max(self.peak_kb, _status_kb("VmRSS"))
            self.samples += 1
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def serve_relay(conn: Connection, dialect: str, total_bytes: int) -> None:
    """The child process: a relay whose every job is completed at once and `total_bytes` long."""
    async def main() -> None:
        async with FakeRelay(dialect=dialect, api_key=KEY, render_seconds=0.0, download_bytes=total_bytes) as relay:
            conn.send((relay.base_url, relay.cdn_origin))
            await asyncio.to_thread(conn.recv)  # until the parent says stop

    asyncio.run(main())


async def measure(base_url: str, dialect: str, total_bytes: int, dest: Path, cdn_origin: str = "") -> dict[str, object]:
    async with HttpVideoProvider(base_url=base_url, api_key=KEY, profile=profile_for(dialect),
                                 timeout=60.0, trusted_origins=[cdn_origin]) as provider:
        video = await provider.retrieve((await provider.create(CreateVideo(prompt="benchmark"))).id)
        gc.collect()
        before_kb = _status_kb("VmRSS")
        hwm_reset = _reset_high_water_mark()
        sampler = RssSampler()
        sampler.start()
        started = time.perf_counter()
        written = await provider.download(video, dest)
        elapsed = time.perf_counter() - started
        sampler.stop()
        peak_kb = max(sampler.peak_kb, _status_kb("VmHWM") if hwm_reset else 0)
    if written != total_bytes or dest.stat().st_size != total_bytes:
        raise SystemExit(f"downloaded {written} bytes, expected {total_bytes}")
    growth_mb = (peak_kb - before_kb) / 1024
    return {
        "benchmark": "download_memory",
        "dialect": dialect,
        "bytes": written,
        "seconds": round(elapsed, 3),
        "mib_per_second": round(written / MIB / elapsed, 1),
        "rss_before_mb": round(before_kb / 1024, 1),
        "rss_peak_mb": round(peak_kb / 1024, 1),
        "growth_mb": round(growth_mb, 1),
        "target_mb": TARGET_MB,
        "ok": growth_mb < TARGET_MB,
        "method": f"VmRSS sampled every 2 ms ({sampler.samples} samples)"
                  + (" and VmHWM after clear_refs" if hwm_reset else ""),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialect", default="openai", choices=["openai", "juheapi", "xingchaoyiqing"])
    parser.add_argument("--mb", type=int, default=100, help="size of the video in MiB (default 100)")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    relay = context.Process(target=serve_relay, args=(child, args.dialect, args.mb * MIB), daemon=True)
    relay.start()
    try:
        if not parent.poll(60):
            raise SystemExit("the fake relay did not start")
        base_url, cdn_origin = parent.recv()
        with tempfile.TemporaryDirectory() as folder:
            result = asyncio.run(measure(base_url, args.dialect, args.mb * MIB, Path(folder) / "video.mp4",
                                         cdn_origin))
    finally:
        parent.send("stop")
        relay.join(10)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
