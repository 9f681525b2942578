"""Server-rendered SVG charts (no chart library, no script): a sparkline and a bar/line chart.

The functions return SVG markup as ``markupsafe.Markup``; every number is formatted here and
every label escaped, so templates insert them as they are. Colours come from classes in
``static/dgsync.css`` (``.chart-*``); the CSP forbids inline ``style`` attributes anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


def _fmt(v: float) -> str:
    if v == int(v):
        return str(int(v))
    return f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) < 10 else f"{v:.1f}".rstrip("0").rstrip(".")


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    import math

    exp = 10 ** math.floor(math.log10(v))
    for step in (1, 2, 2.5, 5, 10):
        if v <= step * exp:
            return step * exp
    return 10 * exp


def sparkline(values: Sequence[float | None], *, width: int = 160, height: int = 32, label: str = "") -> Markup:
    """A small line of ``values`` (oldest first; ``None`` = no sample, a gap)."""
    points = [v for v in values if v is not None]
    title = escape(label or "history")
    if not points:
        return Markup(
            f'<svg class="spark" width="{width}" height="{height}" role="img" aria-label="{title}: no samples yet">'
            f'<text x="4" y="{height // 2 + 4}" class="chart-note">no samples yet</text></svg>'
        )
    top = max(points) or 1.0
    n = len(values)
    step = (width - 4) / max(n - 1, 1)
    segments: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        x = 2 + i * step
        y = height - 3 - (v / top) * (height - 6)
        segments[-1].append(f"{x:.1f},{y:.1f}")
    lines = "".join(f'<polyline class="chart-line" points="{" ".join(s)}"/>' for s in segments if len(s) > 1)
    for seg in segments:  # a lone sample (or the newest one) is a dot
        if len(seg) == 1 or (seg and seg is segments[-1]):
            x, y = seg[-1].split(",")
            lines += f'<circle class="chart-dot-a" cx="{x}" cy="{y}" r="2.5"/>'
    last = points[-1]
    desc = escape(f"{label}: last {_fmt(last)}, max {_fmt(top)} over {len(points)} samples")
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{desc}"><title>{desc}</title>{lines}</svg>'
    )


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    #: A css class suffix: ``a``, ``b``, ``c`` (see ``.chart-series-*``).
    tone: str = "a"


def chart(
    labels: Sequence[str], series: Sequence[Series], *, title: str, unit: str = "", kind: str = "bar",
    width: int = 560, height: int = 200,
) -> Markup:
    """A bar (``kind="bar"``, grouped) or line chart with a y axis, one x label per point
    (thinned when many), a legend and a ``<title>`` per point for the exact value."""
    left, right, top_pad, bottom = 48, 8, 10, 38
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    every = [v for s in series for v in s.values if v is not None]
    name = escape(title)
    if not labels or not every:
        return Markup(
            f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{name}: no data">'
            f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" class="chart-note">no runs to chart yet</text></svg>'
        )
    top = _nice_max(max(every))
    n = len(labels)
    slot = plot_w / n
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{name}"><title>{name}</title>']
    for k in range(5):
        v = top * k / 4
        y = top_pad + plot_h - plot_h * k / 4
        out.append(f'<line class="chart-grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="chart-axis" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{escape(_fmt(v))}</text>')
    if unit:
        out.append(f'<text class="chart-axis" x="{width - right}" y="{height - 5}" text-anchor="end">unit: {escape(unit)}</text>')
    thin = max(1, n // 10)
    for i, label in enumerate(labels):
        if i % thin == 0 or i == n - 1:
            x = left + slot * (i + 0.5)
            out.append(f'<text class="chart-axis" x="{x:.1f}" y="{height - bottom + 14}" text-anchor="middle">{escape(label)}</text>')
    groups = max(len(series), 1)
    for si, s in enumerate(series):
        if kind == "bar":
            bw = max(min(slot * 0.8 / groups, 36.0), 1.0)
            pad = (slot - bw * groups) / 2
            for i, v in enumerate(s.values):
                if v is None:
                    continue
                h = plot_h * (v / top)
                x = left + slot * i + pad + bw * si
                tip = escape(f"{labels[i]} · {s.name}: {_fmt(v)}{(' ' + unit) if unit else ''}")
                out.append(
                    f'<rect class="chart-series-{escape(s.tone)}" x="{x:.1f}" y="{top_pad + plot_h - h:.1f}" '
                    f'width="{bw:.1f}" height="{max(h, 0.5):.1f}"><title>{tip}</title></rect>'
                )
        else:
            pts = []
            for i, v in enumerate(s.values):
                if v is None:
                    continue
                x = left + slot * (i + 0.5)
                y = top_pad + plot_h - plot_h * (v / top)
                pts.append((x, y, v, i))
            if pts:
                line = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in pts)
                out.append(f'<polyline class="chart-line chart-stroke-{escape(s.tone)}" points="{line}"/>')
                for x, y, v, i in pts:
                    tip = escape(f"{labels[i]} · {s.name}: {_fmt(v)}{(' ' + unit) if unit else ''}")
                    out.append(f'<circle class="chart-dot-{escape(s.tone)}" cx="{x:.1f}" cy="{y:.1f}" r="2.5"><title>{tip}</title></circle>')
    lx = left
    for s in series:
        out.append(f'<rect class="chart-series-{escape(s.tone)}" x="{lx}" y="{height - 14}" width="10" height="10"/>')
        out.append(f'<text class="chart-axis" x="{lx + 14}" y="{height - 5}">{escape(s.name)}</text>')
        lx += 24 + 7 * len(s.name)
    out.append("</svg>")
    return Markup("".join(out))
