"""Bench output: one ``BENCH <name> <value> <target> ok|missed`` line per measurement, a JSON file and a chart.

Every measurement has a target that is an upper bound (a ratio, a share, seconds or MB: lower is better), so
``ok`` means ``value <= target``. The chart draws each value as a share of its target (1.0 = on target), so
ratios, shares and seconds fit one axis. It is written with matplotlib when it is importable, else as a small
hand-written SVG.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape


@dataclass
class Result:
    """One BENCH line: ``value`` against the upper bound ``target`` (same unit), with what it was computed from."""

    name: str
    value: float
    target: float
    unit: str
    description: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.value <= self.target

    def line(self) -> str:
        """``BENCH <name> <value> <target> ok|missed``."""
        return f"BENCH {self.name} {_fmt(self.value)} {_fmt(self.target)} {'ok' if self.ok else 'missed'}"


def _fmt(x: float) -> str:
    return f"{x:.3f}" if abs(x) < 10 else f"{x:.1f}"


def machine() -> dict[str, Any]:
    """What the figures depend on: CPUs, memory, Python and DuckDB versions."""
    import os

    import duckdb

    mem_gb = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            mem_gb = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpus": os.cpu_count(),
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
    }


def write_results(results: list[Result], out_dir: Path, meta: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``bench-<stamp>.json`` and ``bench-<stamp>.svg`` (and ``latest.*`` copies); returns (json, chart)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "created_at": stamp,
        "machine": machine(),
        **meta,
        "results": [{**asdict(r), "ok": r.ok, "line": r.line()} for r in results],
    }
    json_path = out_dir / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    chart_path = out_dir / f"bench-{stamp}.svg"
    chart_path.write_text(chart_svg(results, title=f"kpi-alignment bench {stamp}"), encoding="utf-8")
    (out_dir / "latest.json").write_text(json_path.read_text(encoding="utf-8"), encoding="utf-8")
    (out_dir / "latest.svg").write_text(chart_path.read_text(encoding="utf-8"), encoding="utf-8")
    return json_path, chart_path


def chart_svg(results: list[Result], title: str) -> str:
    """An SVG bar chart: each result's value / target (the dashed line at 1.0 is the target)."""
    try:
        return _chart_matplotlib(results, title)
    except ImportError:
        return _chart_handwritten(results, title)


def _chart_matplotlib(results: list[Result], title: str) -> str:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.name for r in results]
    shares = [r.value / r.target if r.target else 0.0 for r in results]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(results) + 1.4))
    colours = ["#2e7d32" if r.ok else "#c62828" for r in results]
    ax.barh(range(len(results)), shares, color=colours)
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(results)), names, fontsize=8)
    ax.invert_yaxis()
    for i, r in enumerate(results):
        ax.text(shares[i], i, f"  {_fmt(r.value)} / {_fmt(r.target)} {r.unit}", va="center", fontsize=7)
    ax.set_xlabel("value / target (lower is better; dashed line = target)")
    ax.set_title(title, fontsize=9)
    ax.set_xlim(0, max([*shares, 1.0]) * 1.45)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


def _chart_handwritten(results: list[Result], title: str) -> str:
    row, left, width = 22, 260, 420
    shares = [r.value / r.target if r.target else 0.0 for r in results]
    scale = width / max([*shares, 1.0]) / 1.3
    height = 50 + row * len(results) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 200}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="10" y="20" font-size="13">{escape(title)}</text>',
    ]
    for i, (r, share) in enumerate(zip(results, shares, strict=True)):
        y = 40 + i * row
        colour = "#2e7d32" if r.ok else "#c62828"
        parts.append(f'<text x="10" y="{y + 14}">{escape(r.name)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{share * scale:.1f}" height="{row - 6}" fill="{colour}"/>')
        parts.append(
            f'<text x="{left + share * scale + 6:.1f}" y="{y + 14}">'
            f"{escape(_fmt(r.value))} / {escape(_fmt(r.target))} {escape(r.unit)}</text>"
        )
    x1 = left + scale
    parts.append(f'<line x1="{x1:.1f}" y1="34" x2="{x1:.1f}" y2="{height - 24}" stroke="black" stroke-dasharray="4"/>')
    parts.append(f'<text x="{left}" y="{height - 8}">value / target (dashed line = target; lower is better)</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
