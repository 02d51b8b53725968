"""Benchmark: how long fitting a video under Discord's upload limit takes, and whether the loop stays live.

For 4 / 8 / 12 s sources at each allowed size (high-bitrate, lightly noisy, 30 fps: harder to compress
than most real footage), fit to 10 MiB (or half the source when that is smaller, so a transcode always
happens) and report wall time and output size. Then run 4 transcodes at once and measure the event
loop's lag (p50 / p99 / max) with a 10 ms ticker. Prints one JSON document.

    python bench/transcode.py            # the full matrix (~2-3 minutes on 2 cores)
    python bench/transcode.py --quick    # 4 s only, two sizes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import media

SIZES = ["720x1280", "1280x720", "1024x1792", "1792x1024"]
SECONDS = [4, 8, 12]
LIMIT = 10 * 1024 * 1024


async def make_source(dest: Path, size: str, seconds: int) -> Path:
    args = ["-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30,noise=alls=12:allf=t",
            "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000", "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "40M", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-v", "error", str(dest)]
    code, errors = await media.run_ffmpeg(args, timeout=300, what="make a source", heavy=False)
    if code != 0:
        raise SystemExit(f"could not make a source: {errors}")
    return dest


async def fit_one(src: Path, out_dir: Path) -> dict:
    info = await media.probe(src)
    limit = min(LIMIT, info.size_bytes // 2)
    started = time.perf_counter()
    result = await media.fit_to_limit(src, limit, out_dir, info=info)
    wall = time.perf_counter() - started
    return {
        "size": info.resolution, "seconds": round(info.duration, 2), "source_bytes": info.size_bytes,
        "limit_bytes": limit, "output_bytes": result.size_bytes,
        "output_resolution": f"{result.width}x{result.height}", "compressed": result.compressed,
        "wall_seconds": round(wall, 2), "realtime_factor": round(wall / info.duration, 2),
    }


async def loop_lag_during(sources: list[Path], out_dir: Path) -> dict:
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append((time.perf_counter() - before - 0.01) * 1000)

    media.set_ffmpeg_concurrency(len(sources))
    watch = asyncio.create_task(ticker())
    started = time.perf_counter()
    try:
        await asyncio.gather(*(media.fit_to_limit(src, min(LIMIT, src.stat().st_size // 2), out_dir / str(i))
                               for i, src in enumerate(sources)))
    finally:
        stop.set()
        await watch
        media.set_ffmpeg_concurrency(media.DEFAULT_CONCURRENCY)
    lags.sort()
    return {
        "concurrent_transcodes": len(sources), "wall_seconds": round(time.perf_counter() - started, 2),
        "samples": len(lags), "p50_ms": round(statistics.median(lags), 2),
        "p99_ms": round(lags[min(len(lags) - 1, int(len(lags) * 0.99))], 2), "max_ms": round(lags[-1], 2),
    }


async def main(quick: bool) -> dict:
    sizes = ["720x1280", "1280x720"] if quick else SIZES
    seconds_list = [4] if quick else SECONDS
    runs = []
    with tempfile.TemporaryDirectory(prefix="sora-bench-") as tmp:
        root = Path(tmp)
        for seconds in seconds_list:
            for size in sizes:
                src = await make_source(root / f"src-{size}-{seconds}.mp4", size, seconds)
                runs.append(await fit_one(src, root / "out"))
                print(json.dumps(runs[-1]), file=sys.stderr)
        lag_sources = [root / f"src-{size}-4.mp4" for size in sizes]
        lag_sources = [p if p.exists() else await make_source(p, p.stem.split("-")[1], 4) for p in lag_sources]
        while len(lag_sources) < 4:
            lag_sources.append(lag_sources[len(lag_sources) % 2])
        lag = await loop_lag_during(lag_sources[:4], root / "lag")
    return {"mode": "quick" if quick else "full", "cpus": os.cpu_count(), "ffmpeg": media.ffmpeg_path(),
            "preset": "veryfast", "runs": runs, "loop_lag": lag}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 s sources at two sizes only")
    print(json.dumps(asyncio.run(main(parser.parse_args().quick)), indent=2))
