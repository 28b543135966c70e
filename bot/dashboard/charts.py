"""Bar charts as inline SVG, drawn on the server: no script, no CDN, and they print."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

# Grade colours, and one neutral colour for everything else.
PALETTE = {"优秀": "#2e7d32", "良好": "#1565c0", "合格": "#f9a825", "不合格": "#c62828"}
DEFAULT_COLOUR = "#1565c0"


def _fmt(value: float | None, unit: str, decimals: int) -> str:
    if value is None:
        return "—"
    return f"{value:.{decimals}f}{unit}"


def hbar_chart(
    items: Sequence[tuple[str, float | None]],
    *,
    max_value: float | None = None,
    unit: str = "",
    decimals: int = 1,
    title: str = "",
    threshold: float | None = None,
    threshold_label: str = "",
    label_width: int = 130,
    width: int = 430,
    bar_height: int = 22,
) -> Markup:
    """A horizontal bar chart: one labelled bar per item, the value printed at the bar's end.
    ``None`` values are drawn as an empty bar with a dash. ``threshold`` draws a dashed
    reference line (e.g. the 60% pass mark)."""
    gap = 8
    top = 28 if title else 6
    values = [v for _, v in items if v is not None]
    scale_max = max_value if max_value is not None else max(values, default=0) or 1
    plot_w = width - label_width - 60
    height = top + len(items) * (bar_height + gap) + 6
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
        parts.append(f'<text x="0" y="18" class="chart-title">{escape(title)}</text>')
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_height + gap)
        bar_w = 0 if value is None else max(0.0, min(1.0, value / scale_max)) * plot_w
        colour = PALETTE.get(label, DEFAULT_COLOUR)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + bar_height * 0.7:.1f}" text-anchor="end" '
            f'class="chart-label">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="{plot_w}" height="{bar_height}" '
            f'class="chart-track"/>'
        )
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="{bar_w:.1f}" height="{bar_height}" '
            f'fill="{colour}"><title>{escape(label)}：{_fmt(value, unit, decimals)}</title></rect>'
        )
        parts.append(
            f'<text x="{label_width + bar_w + 6:.1f}" y="{y + bar_height * 0.7:.1f}" '
            f'class="chart-value">{_fmt(value, unit, decimals)}</text>'
        )
    if threshold is not None and scale_max:
        x = label_width + threshold / scale_max * plot_w
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 2}" '
            f'class="chart-threshold"/>'
        )
        if threshold_label:
            parts.append(
                f'<text x="{x + 3:.1f}" y="{top - 6}" class="chart-note">'
                f"{escape(threshold_label)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
