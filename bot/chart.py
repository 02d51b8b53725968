"""The `/sora-admin report` chart: videos and spend per day this month, and the top members, as one
PNG drawn with matplotlib's Agg backend.

Only the object-oriented API (`Figure` + `FigureCanvasAgg`) is used, never pyplot: no global state,
so it is safe in a worker thread (`render_report_chart_async`), off the event loop.
"""

from __future__ import annotations

import asyncio
import calendar
import io
from datetime import date

import matplotlib

matplotlib.use("Agg")  # no display: before anything else of matplotlib is imported

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.texts_controls import chart_titles

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 6.0, 100  # 1000×600 px
MAX_TOP = 10
MAX_LABEL = 24


def _label(name: str) -> str:
    """A member's name as plain text: no mathtext ($…$), bounded, one line."""
    flat = " ".join(str(name).split())
    flat = flat if len(flat) <= MAX_LABEL else flat[:MAX_LABEL - 1] + "…"
    return flat.replace("$", r"\$")


def render_report_chart(month: date, days: list[tuple[str, int, float]], top: list[tuple[str, float]]) -> bytes:
    """PNG bytes. `days`: (YYYY-MM-DD, videos, usd) for the days that had any; `top`: (name, usd)."""
    words = chart_titles()
    length = calendar.monthrange(month.year, month.month)[1]
    per_day = {int(day[8:10]): (videos, usd) for day, videos, usd in days if day[:7] == month.strftime("%Y-%m")}
    x = list(range(1, length + 1))
    videos = [per_day.get(d, (0, 0.0))[0] for d in x]
    spend = [per_day.get(d, (0, 0.0))[1] for d in x]

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)  # fixed margins: a layout engine costs ~2×
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2, 2, width_ratios=(3, 2), left=0.06, right=0.98, bottom=0.09, top=0.9,
                               wspace=0.55, hspace=0.35)
    ax_videos = figure.add_subplot(grid[0, 0])
    ax_spend = figure.add_subplot(grid[1, 0], sharex=ax_videos)
    ax_top = figure.add_subplot(grid[:, 1])
    figure.suptitle(month.strftime("%B %Y"))

    ax_videos.bar(x, videos, color="#5865F2")
    ax_videos.set_title(words["videos"], loc="left", fontsize=10)
    counts = ax_videos.yaxis.get_major_locator()  # bar charts get an AutoLocator, a MaxNLocator
    if isinstance(counts, MaxNLocator):
        counts.set_params(integer=True)
    ax_spend.bar(x, spend, color="#57F287")
    ax_spend.set_title(words["spend"], loc="left", fontsize=10)
    ax_spend.set_xlabel(words["day"])
    ax_spend.set_xlim(0.4, length + 0.6)
    for ax in (ax_videos, ax_spend):
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)

    ax_top.set_title(words["top"], loc="left", fontsize=10)
    shown = top[:MAX_TOP]
    if shown:
        names = [_label(name) for name, _ in reversed(shown)]
        ax_top.barh(range(len(shown)), [usd for _, usd in reversed(shown)], color="#FEE75C")
        ax_top.set_yticks(range(len(shown)), names, fontsize=8)
        ax_top.spines[["top", "right"]].set_visible(False)
    else:
        ax_top.set_axis_off()
        ax_top.text(0.5, 0.5, words["none"], ha="center", va="center", transform=ax_top.transAxes)

    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


async def render_report_chart_async(month: date, days: list[tuple[str, int, float]],
                                    top: list[tuple[str, float]]) -> bytes:
    return await asyncio.to_thread(render_report_chart, month, days, top)
