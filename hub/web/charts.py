"""Horizontal bar charts as inline SVG: one row per label, each bar with its value written beside it.

Rows grow downwards, so a chart stays readable on a 390 px phone (its 360-unit ``viewBox`` is
drawn about 1:1 there) and on a desk alike; the value axis carries ticks at round numbers. No
script, no external request: the page renders offline. Each bar is an SVG element with
``class="point"`` and its value in ``data-value``, for tests and assistive tools.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

WIDTH = 360
LABEL_W = 120  # the row labels' column: 16 characters
VALUE_W = 44  # room after the longest bar for its value
AXIS_H = 20
BAR_H = 14
BAR_GAP = 2
ROW_GAP = 8
COLOURS = ("#0b7a6f", "#2f7fd1", "#c0392b")
FONT = 13


def nice_ticks(top: float, percent: bool = False) -> list[float]:
    """Round tick values from 0 to at least ``top``: 0/25/50/75/100 % or steps of 1, 2 or 5 × 10ⁿ."""
    if percent:
        return [0.0, 0.25, 0.5, 0.75, 1.0]
    if top <= 0:
        return [0.0, 1.0]
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(step, 1.0)  # counts: never a tick at 0.5 people
    return [step * i for i in range(math.ceil(top / step) + 1)]


def _short(label: str, room: int = 16) -> str:
    return label if len(label) <= room else label[:room - 1] + "…"


def hbar_chart(name: str, title: str, labels: Sequence[str],
               series: Sequence[tuple[str, Sequence[float]]], *, percent: bool = False,
               empty: str = "no data yet", note: str = "", footer: str = "",
               show: Callable[[float], str] | None = None) -> str:
    """A figure with the chart, its legend and a ``footer`` line; ``show`` formats a value
    (default: an integer or a percentage)."""
    fmt = show or ((lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:g}"))
    legend = "".join(f"<span class='key'><i style='background:{COLOURS[s % len(COLOURS)]}'></i>"
                     f"{escape(series_name)}</span>" for s, (series_name, _) in enumerate(series))
    caption = f"<figcaption>{escape(title)}{f' <small>{escape(note)}</small>' if note else ''}</figcaption>"
    if not labels:
        return (f"<figure>{caption}<svg class='chart' data-chart='{escape(name)}' viewBox='0 0 {WIDTH} 40' "
                f"role='img' aria-label='{escape(title)}'><text x='{WIDTH / 2}' y='24' font-size='{FONT}' "
                f"text-anchor='middle' fill='#666'>{escape(empty)}</text></svg></figure>")
    top = max([v for _, values in series for v in values] + [0.0])
    ticks = nice_ticks(top, percent)
    scale_top = ticks[-1] or 1.0
    span = WIDTH - LABEL_W - VALUE_W
    row_h = len(series) * (BAR_H + BAR_GAP) + ROW_GAP
    height = AXIS_H + len(labels) * row_h + 4
    parts = [caption,
             f"<svg class='chart' data-chart='{escape(name)}' viewBox='0 0 {WIDTH} {height}' "
             f"role='img' aria-label='{escape(title)}'>"]
    for tick in ticks:
        x = LABEL_W + span * tick / scale_top
        parts.append(f"<line x1='{x:.1f}' y1='{AXIS_H - 4}' x2='{x:.1f}' y2='{height - 2}' stroke='#e3e3e3'/>"
                     f"<text class='tick' x='{x:.1f}' y='{AXIS_H - 7}' font-size='12' fill='#555' "
                     f"text-anchor='middle'>{escape(fmt(tick))}</text>")
    for r, label in enumerate(labels):
        y0 = AXIS_H + r * row_h + ROW_GAP / 2
        mid = y0 + (row_h - ROW_GAP) / 2
        parts.append(f"<text x='{LABEL_W - 6}' y='{mid + 4:.1f}' font-size='{FONT}' text-anchor='end'>"
                     f"<title>{escape(label)}</title>{escape(_short(label))}</text>")
        for s, (series_name, values) in enumerate(series):
            value = values[r]
            y = y0 + s * (BAR_H + BAR_GAP)
            w = span * value / scale_top
            parts.append(
                f"<rect class='point' data-series='{escape(series_name)}' data-label='{escape(label)}' "
                f"data-value='{value}' x='{LABEL_W}' y='{y:.1f}' width='{max(w, 0.5):.1f}' height='{BAR_H}' "
                f"fill='{COLOURS[s % len(COLOURS)]}'><title>{escape(label)} · {escape(series_name)}: "
                f"{escape(fmt(value))}</title></rect>"
                f"<text class='value' x='{LABEL_W + w + 4:.1f}' y='{y + BAR_H - 3:.1f}' font-size='12'>"
                f"{escape(fmt(value))}</text>")
    parts.append(f"<line x1='{LABEL_W}' y1='{AXIS_H - 4}' x2='{LABEL_W}' y2='{height - 2}' stroke='#888'/>")
    parts.append("</svg>")
    if len(series) > 1:
        parts.append(f"<p class='legend'>{legend}</p>")
    if footer:
        parts.append(f"<p class='legend'>{escape(footer)}</p>")
    return f"<figure>{''.join(parts)}</figure>"
