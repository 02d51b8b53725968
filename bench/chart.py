"""How long the /sora-admin report chart takes for a busy month: every day with videos, ten top
members, rendered in a worker thread as the bot does. Prints one JSON document; exits 1 when the
median render misses the target.

    .venv/bin/python bench/chart.py            # 10 renders
    .venv/bin/python bench/chart.py --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.chart import render_report_chart_async

TARGET_MEDIAN_S = 0.5


async def main(runs: int) -> int:
    month = date(2026, 1, 31)
    days = [(f"2026-01-{d:02d}", 400 + 13 * d, 180.0 + 7.5 * d) for d in range(1, 32)]  # ~15,000 videos
    top = [(f"Member with a long name {i}", 900.0 - 40 * i) for i in range(10)]
    started = time.perf_counter()
    first = await render_report_chart_async(month, days, top)  # includes matplotlib's first-use cost
    cold = time.perf_counter() - started
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        png = await render_report_chart_async(month, days, top)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(json.dumps({"runs": runs, "days": len(days), "videos": sum(d[1] for d in days), "top_members": len(top),
                      "cold_first_render_s": round(cold, 3), "median_s": round(median, 3),
                      "max_s": round(max(times), 3), "png_bytes": len(png), "first_png_bytes": len(first),
                      "target_median_s": TARGET_MEDIAN_S, "ok": median <= TARGET_MEDIAN_S}, indent=2))
    return 0 if median <= TARGET_MEDIAN_S else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    sys.exit(asyncio.run(main(parser.parse_args().runs)))
