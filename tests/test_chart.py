"""The report chart is a real PNG of a fixed size, whatever the month holds."""

from __future__ import annotations

import io
from datetime import date

from PIL import Image

from bot.chart import DPI, HEIGHT_IN, WIDTH_IN, render_report_chart, render_report_chart_async


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image


def test_a_busy_month_and_an_empty_one_are_pngs_of_the_same_size():
    busy = [(f"2026-02-{d:02d}", d * 3, d * 1.25) for d in range(1, 29)]
    top = [(f"member {i} $5 $x$ " + "long" * 10, 100.0 - i) for i in range(15)]  # mathtext stays text
    for days, members in ((busy, top), ([], [])):
        image = decode(render_report_chart(date(2026, 2, 14), days, members))
        assert image.size == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))


def test_days_of_another_month_are_ignored_and_bars_are_drawn():
    empty = render_report_chart(date(2026, 3, 1), [], [])
    stray = render_report_chart(date(2026, 3, 1), [("2026-02-10", 5, 9.0)], [])
    drawn = render_report_chart(date(2026, 3, 1), [("2026-03-10", 5, 9.0)], [])
    assert decode(empty).tobytes() == decode(stray).tobytes()
    assert decode(drawn).tobytes() != decode(empty).tobytes()


async def test_rendering_off_the_loop():
    assert (await render_report_chart_async(date(2026, 3, 1), [], [("a", 1.0)]))[:4] == b"\x89PNG"
