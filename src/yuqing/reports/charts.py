"""Charts for reports, drawn with matplotlib (Agg) as PNG images in a Chinese font.

Without a Chinese font a chart is not drawn: the `Figure` says so and the document shows that
line instead of an image of empty boxes.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from typing import Any

from yuqing.reports.document import Figure
from yuqing.reports.fonts import FontMissing, find_fonts

__all__ = ["bar_chart", "line_chart", "pie_chart"]

_LOCK = threading.Lock()  # pyplot's state is global; reports may be built from several threads
_COLOURS = ("#c0392b", "#2f6fb5", "#8c8c8c", "#e67e22", "#27ae60", "#8e44ad")
SENTIMENT_COLOURS = {"负面": "#c0392b", "中性": "#8c8c8c", "正面": "#27ae60"}


def _font_family(configured: str) -> str:
    from matplotlib import font_manager

    face = find_fonts(configured).sans
    font_manager.fontManager.addfont(str(face.path))
    if face.path.suffix.lower() == ".ttc":
        # A collection: every face is registered; pick the Simplified Chinese one by name.
        names = {entry.name for entry in font_manager.fontManager.ttflist if entry.fname == str(face.path)}
        for name in sorted(names):
            if name.endswith(" SC"):
                return name
        return sorted(names)[0]
    return str(font_manager.FontProperties(fname=str(face.path)).get_name())


def _draw(caption: str, configured_font: str, paint: Any, size: tuple[float, float] = (7.2, 3.2)) -> Figure:
    try:
        with _LOCK:
            import matplotlib

            matplotlib.use("Agg")
            from matplotlib import pyplot as plt

            family = _font_family(configured_font)
            with plt.rc_context({"font.family": family, "axes.unicode_minus": False, "font.size": 9}):
                fig, ax = plt.subplots(figsize=size, dpi=150)
                try:
                    paint(fig, ax)
                    ax.spines[["top", "right"]].set_visible(False)
                    fig.tight_layout()
                    buffer = io.BytesIO()
                    fig.savefig(buffer, format="png")
                finally:
                    plt.close(fig)
    except FontMissing as exc:
        return Figure(caption, None, f"图表未绘制：{exc}")
    return Figure(caption, buffer.getvalue())


def line_chart(
    caption: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    configured_font: str = "",
    y_label: str = "信息量（条）",
) -> Figure:
    """One line per series over `labels` (e.g. hours or days); ticks thinned to stay legible. The
    axis starts at 0 with whole-number ticks (counts of posts: a line from 9 to 14 must not look
    like a tenfold rise); a value of NaN (a day still to come) is left out, not drawn as 0."""

    def paint(_fig: Any, ax: Any) -> None:
        from matplotlib.ticker import MaxNLocator

        positions = list(range(len(labels)))
        for (name, values), colour in zip(series.items(), _COLOURS, strict=False):
            ax.plot(
                positions,
                list(values),
                marker="o" if len(labels) <= 31 else None,
                markersize=3,
                color=colour,
                label=name,
            )
        step = max(1, -(-len(labels) // 8))  # at most eight labels
        ax.set_xticks(positions[::step], [labels[i] for i in positions[::step]], rotation=20, ha="right")
        ax.set_ylabel(y_label)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        highest = max((v for values in series.values() for v in values if v == v), default=0)
        ax.set_ylim(bottom=0, top=max(highest * 1.1, 1))
        ax.grid(axis="y", alpha=0.3)
        if len(series) > 1:
            ax.legend(frameon=False)

    return _draw(caption, configured_font, paint)


def bar_chart(
    caption: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    configured_font: str = "",
    unit: str = "条",
) -> Figure:
    """Horizontal bars, largest on top, each labelled with its value."""

    def paint(_fig: Any, ax: Any) -> None:
        order = list(range(len(labels)))[::-1]
        ax.barh([labels[i] for i in order], [values[i] for i in order], color=_COLOURS[1])
        for y, i in enumerate(order):
            ax.text(values[i], y, f" {values[i]:g}{unit}", va="center", fontsize=8)
        ax.set_xlabel(unit)
        ax.margins(x=0.15)

    height = max(2.2, 0.35 * len(labels) + 1.0)
    return _draw(caption, configured_font, paint, size=(7.2, height))


def pie_chart(
    caption: str, labels: Sequence[str], values: Sequence[float], *, configured_font: str = ""
) -> Figure:
    """Shares of a whole (the sentiment mix); empty parts are left out."""

    def paint(_fig: Any, ax: Any) -> None:
        kept = [(label, value) for label, value in zip(labels, values, strict=True) if value > 0]
        colours = [
            SENTIMENT_COLOURS.get(label, _COLOURS[i % len(_COLOURS)]) for i, (label, _) in enumerate(kept)
        ]
        ax.pie(
            [value for _, value in kept],
            labels=[f"{label} {value:g}" for label, value in kept],
            colors=colours,
            autopct="%1.1f%%",
            startangle=90,
            counterclock=False,
            wedgeprops={"linewidth": 1, "edgecolor": "white"},
        )
        ax.axis("equal")

    return _draw(caption, configured_font, paint, size=(4.2, 2.8))
