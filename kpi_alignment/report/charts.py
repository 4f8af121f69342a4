"""Charts of the report as inline SVG strings: no files, no fonts, no network requests.

Two kinds:

* :func:`sparkline_svg` — a hand-written SVG of ~100x24 px for table rows: the actual values as a line, the
  target as a dashed line, the last point coloured by its RAG status.
* :func:`kpi_chart_svg` — one larger chart per KPI drawn with matplotlib's object API (no pyplot, no global
  backend): actual vs target over time at the KPI's own grain, all dimensions ('*'), the recent periods' dots
  coloured by RAG. Text stays text (``svg.fonttype = 'none'``), so the page's own sans-serif font draws it and
  it can be selected and searched.

Both take the series of :mod:`kpi_alignment.report.findings` (dicts with ``period_start`` ISO date, ``actual``,
``target``, ``rag``). Every string that reaches the SVG is XML-escaped; the result is :class:`markupsafe.Markup`
so the HTML template inserts it as is.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import warnings
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

RAG_COLOURS = {"green": "#1a7f37", "amber": "#bf8700", "red": "#cf222e", "no_target": "#57606a", "no_data": "#8c959f"}
"""Colour per RAG status; the report always prints the status as text beside it, never colour alone."""

ACTUAL_COLOUR = "#0969da"
TARGET_COLOUR = "#57606a"
SHARE_UNITS = frozenset({"share", "ratio", "fraction", "rate"})
"""Units whose values are fractions of 1 and are shown as percentages."""
NO_UNIT = frozenset({"", "-", "\u2013", "\u2014", "n/a", "none"})
"""Units that say there is none (source exports write '-')."""

RAG_DOT_POINTS = 36
"""The larger chart colours the dots of the last 36 periods by RAG (three years of a monthly KPI)."""

SPARKLINE_POINTS = 24
"""A sparkline shows at most the last 24 periods (two years of a monthly KPI)."""


def _points(series: Sequence[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    return [(i, float(p[key])) for i, p in enumerate(series) if p.get(key) is not None]


def sparkline_svg(series: Sequence[dict[str, Any]], *, label: str, width: int = 100, height: int = 24) -> Markup:
    """A tiny line chart of the last :data:`SPARKLINE_POINTS` periods.

    ``series``: oldest first, dicts with ``actual``, ``target`` (floats or None) and ``rag``. ``label``: the
    accessible name (e.g. the KPI name), escaped here. Returns an empty string when no period has a value.
    Scale: both lines share one y range (min..max of actuals and targets), padded by 2 px.
    """
    tail = list(series)[-SPARKLINE_POINTS:]
    actual = _points(tail, "actual")
    if not actual:
        return Markup("")
    target = _points(tail, "target")
    values = [v for _, v in actual + target]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    n = max(len(tail) - 1, 1)
    pad = 2.0

    def xy(i: int, v: float) -> str:
        x = pad + (width - 2 * pad) * i / n
        y = height - pad - (height - 2 * pad) * (v - low) / span
        return f"{x:.1f},{y:.1f}"

    last_i, last_v = actual[-1]
    colour = RAG_COLOURS.get(tail[last_i].get("rag") or "", ACTUAL_COLOUR)
    parts = [
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    if len(target) > 1:
        parts.append(
            f'<polyline fill="none" stroke="{TARGET_COLOUR}" stroke-width="1" stroke-dasharray="3 2" '
            f'points="{" ".join(xy(i, v) for i, v in target)}"/>'
        )
    if len(actual) > 1:
        parts.append(
            f'<polyline fill="none" stroke="{ACTUAL_COLOUR}" stroke-width="1.5" '
            f'points="{" ".join(xy(i, v) for i, v in actual)}"/>'
        )
    lx, ly = xy(last_i, last_v).split(",")
    parts.append(f'<circle cx="{lx}" cy="{ly}" r="2.5" fill="{colour}"/></svg>')
    return Markup("".join(parts))


_XML_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_COMMENTS = re.compile(r"<!--.*?-->\s*", re.S)
_SIZE = re.compile(r'\s(width|height)="[^"]*pt"')
_LINE_BREAKS = re.compile(r"\s*\n\s*")
_BETWEEN_TAGS = re.compile(r">\s+<")
_STYLE = re.compile(r"<defs>\s*<style[^>]*>.*?</style>\s*</defs>", re.S)
_GROUP_IDS = re.compile(r'<g id="[^"]*"')
_GEOMETRY = re.compile(r'\b(d|x|y|transform|points)="([^"]*)"')
_DECIMALS = re.compile(r"(-?\d+\.\d)\d+")


def kpi_chart_svg(
    series: Sequence[dict[str, Any]],
    *,
    chart_id: str,
    unit: str | None,
    title: str,
    grain: str | None = None,
) -> Markup:
    """Actual vs target over time for one KPI, as an inline SVG (about 10-25 KB for a year of months).

    ``series``: oldest first, dicts with ``period_start`` (ISO date), ``actual``, ``target``, ``rag``.
    ``chart_id``: unique in the page (the KPI id); it salts matplotlib's internal ids so two charts never share
    a clip-path or marker id. ``unit``: values of :data:`SHARE_UNITS` get a percentage axis. ``title``: the
    accessible name. Returns an empty string when no period has a value.
    """
    rows = [p for p in series if p.get("period_start")]
    if not any(p.get("actual") is not None for p in rows):
        return Markup("")
    from matplotlib import rc_context
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    dates = [dt.date.fromisoformat(str(p["period_start"])[:10]) for p in rows]
    actual = [p.get("actual") for p in rows]
    target = [p.get("target") for p in rows]
    rc = {
        "svg.fonttype": "none",  # text as <text>, drawn by the page's font (no embedded glyph paths)
        "svg.hashsalt": f"kpi-chart-{chart_id}",  # deterministic ids, unique per chart
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans"],  # measured with matplotlib's bundled font; browsers fall back
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "path.simplify": True,
    }
    with rc_context(rc):
        fig = Figure(figsize=(7.2, 2.6), layout="constrained")
        ax = fig.subplots()
        nan = float("nan")
        ax.plot(
            dates,
            [nan if v is None else v for v in target],
            color=TARGET_COLOUR,
            linestyle="--",
            linewidth=1.2,
            drawstyle="steps-mid",
            label="target",
        )
        ax.plot(dates, [nan if v is None else v for v in actual], color=ACTUAL_COLOUR, linewidth=1.8, label="actual")
        # RAG dots on the recent periods only: each dot is an SVG element, a long history would weigh 100s of KB
        coloured = [
            (d, v, RAG_COLOURS.get(p.get("rag") or "", ACTUAL_COLOUR))
            for d, v, p in list(zip(dates, actual, rows, strict=True))[-RAG_DOT_POINTS:]
            if v is not None
        ]
        ax.scatter(
            [d for d, _, _ in coloured], [v for _, v, _ in coloured], c=[c for _, _, c in coloured], s=18, zorder=3
        )
        locator = AutoDateLocator(minticks=3, maxticks=9)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        if (unit or "").lower() in SHARE_UNITS:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(_tick))
            if (unit or "").strip() not in NO_UNIT:
                ax.set_ylabel(unit)
        ax.grid(axis="y", color="#d0d7de", linewidth=0.6)
        ax.legend(loc="best", fontsize=8, frameon=False, ncols=2)
        if grain:
            ax.set_xlabel(f"{grain} (all dimensions)", fontsize=8, color="#57606a")
        buf = io.StringIO()
        with warnings.catch_warnings():
            # long daily or weekly series: the locator falls back to a coarser tick interval, which is what we want
            warnings.filterwarnings("ignore", message="AutoDateLocator was unable", category=UserWarning)
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return Markup(_inline_svg(buf.getvalue(), title))


def _tick(value: float, _pos: int) -> str:
    """Axis numbers without scientific notation: 28,500 / 14.5 / 0.035."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.4g}"


def _round_geometry(match: re.Match[str]) -> str:
    rounded = _DECIMALS.sub(r"\1", match[2])
    return f'{match[1]}="{rounded}"'


def _inline_svg(svg: str, title: str) -> str:
    """Make matplotlib's standalone SVG fit inline in HTML: no XML prologue or DOCTYPE (it names a DTD URL), no
    RDF metadata, a viewBox that scales to its container, and an accessible name."""
    svg = _XML_PROLOGUE.sub("", svg, count=1)
    svg = _METADATA.sub("", svg)
    svg = _COMMENTS.sub("", svg)
    # a <style> inside inline SVG styles the whole page (the report's CSS sets line joins for .chart instead);
    # group ids (figure_1, axes_1, ...) repeat in every chart and nothing refers to them
    svg = _GROUP_IDS.sub("<g", _STYLE.sub("", svg, count=1))
    # coordinates to 0.1 of a point (matplotlib writes 6 decimals): invisible, and half the bytes of a long series
    svg = _GEOMETRY.sub(_round_geometry, svg)
    svg = _SIZE.sub("", svg, count=2)
    # path data and indentation: line breaks are plain separators in SVG, and a third of the bytes
    svg = _BETWEEN_TAGS.sub("><", _LINE_BREAKS.sub(" ", svg)).strip()
    return svg.replace("<svg ", f'<svg class="chart" role="img" aria-label="{escape(title)}" ', 1)
