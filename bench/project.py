"""A kpi-alignment project directory over the synthetic metrics (:mod:`bench.data`), for whole-job measurements.

Catalog: one strategic objective with two operational ones; four KPIs over four of the 50 synthetic metrics — a
daily ``sum``, a daily ``average`` (lower is better), a weekly ``ratio`` and a monthly ``last`` — each linked to an
objective, with a yearly target per KPI. The other 46 metrics are unmapped (reported, not failed). Every finding
is a warning, so a run over any history length succeeds and the measured time is the pipeline's, not a failure's.

Source: ``metrics`` (long layout) reading ``data/metrics/*.csv``; the files are symbolic links to the generated
daily files, so projects with different history lengths share one copy of the data.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.data import day_of

KPIS = [
    # id, name, metrics block, aggregation, grain, direction, target type, target value
    ("KPI-VOLUME", "Daily volume", "value: metric_000", "sum", "day", "higher_is_better", "at_least", 400.0),
    ("KPI-LATENCY", "Average latency", "value: metric_001", "average", "day", "lower_is_better", "at_most", 600.0),
    (
        "KPI-QUALITY",
        "Quality ratio",
        "numerator: metric_002\n      denominator: metric_003",
        "ratio",
        "week",
        "higher_is_better",
        "at_least",
        0.9,
    ),
    ("KPI-BACKLOG", "Backlog at month end", "value: metric_004", "last", "month", "lower_is_better", "at_most", 700.0),
]
OBJECTIVE_OF = {
    "KPI-VOLUME": "OBJ-GROW",
    "KPI-LATENCY": "OBJ-SERVE",
    "KPI-QUALITY": "OBJ-SERVE",
    "KPI-BACKLOG": "OBJ-GROW",
}

SETTINGS = """\
name: bench
title: Synthetic metrics for make bench
evaluation_date: {evaluation_date}
severity: {{orphaned: warn, disconnected: warn, silent: warn, unfed: warn, unmeasured: warn, stale: warn,
  id_cleanup: warn}}
warehouse:
  threads: {threads}
"""

OBJECTIVES = """\
objectives:
  - id: OBJ-STRATEGY
    name: Grow a reliable service
    level: strategic
    owner: Chief Executive
    time_frame: {start: 2015-01-01, end: 2030-12-31}
  - id: OBJ-GROW
    name: Grow volume
    level: operational
    parent: OBJ-STRATEGY
    owner: Head of Sales
    time_frame: {start: 2015-01-01, end: 2030-12-31}
  - id: OBJ-SERVE
    name: Serve fast and well
    level: operational
    parent: OBJ-STRATEGY
    owner: Head of Operations
    time_frame: {start: 2015-01-01, end: 2030-12-31}
"""

SOURCES = """\
sources:
  - name: metrics
    description: Synthetic daily metric export (bench)
    path: data/metrics/*.csv
    layout: long
    columns: {date: date, metric: varchar, dimension: varchar, value: double}
    date: {column: date, format: "%Y-%m-%d"}
    metric_column: metric
    value_column: value
    dimension_column: dimension
    expected_every: day
"""


def _kpis_yaml() -> str:
    lines = ["kpis:"]
    for kid, name, metrics, aggregation, grain, direction, _, _ in KPIS:
        lines += [
            f"  - id: {kid}",
            f"    name: {name}",
            f"    direction: {direction}",
            f"    aggregation: {aggregation}",
            f"    grain: {grain}",
            "    owner: Head of Operations",
            "    metrics:",
            f"      {metrics}",
        ]
    lines.append("links:")
    lines += [f"  - {{kpi: {kid}, objective: {OBJECTIVE_OF[kid]}}}" for kid, *_ in KPIS]
    lines.append("targets:")
    for kid, *_, ttype, value in KPIS:
        for year in range(2015, 2031):
            lines.append(
                f"  - {{kpi: {kid}, period_start: {year}-01-01, period_end: {year}-12-31, type: {ttype}, "
                f"value: {value}}}"
            )
    return "\n".join(lines) + "\n"


def write_project(root: Path, history: list[Path], *, threads: int | None = None) -> Path:
    """(Re)create the bench project in ``root`` with ``history`` (daily files) linked into ``data/metrics``.

    The evaluation date is the day after the last history day's successor (the new day a nightly run adds), so
    a KPI is due but not stale. Any previous output (``.kpi-align``) is removed.
    """
    if root.exists():
        shutil.rmtree(root)
    (root / "catalog").mkdir(parents=True)
    (root / "sources").mkdir()
    drop = root / "data" / "metrics"
    drop.mkdir(parents=True)
    evaluation_date = day_of(len(history) + 1)
    (root / "kpi-align.yml").write_text(
        SETTINGS.format(evaluation_date=evaluation_date.isoformat(), threads=threads or os.cpu_count() or 1),
        encoding="utf-8",
    )
    (root / "catalog" / "objectives.yml").write_text(OBJECTIVES, encoding="utf-8")
    (root / "catalog" / "kpis.yml").write_text(_kpis_yaml(), encoding="utf-8")
    (root / "sources" / "metrics.yml").write_text(SOURCES, encoding="utf-8")
    for f in history:
        (drop / f.name).symlink_to(f.resolve())
    return root


def add_day(root: Path, day_file: Path) -> Path:
    """Link ``day_file`` into the project's drop folder (the nightly delivery); returns the link."""
    link = root / "data" / "metrics" / day_file.name
    link.unlink(missing_ok=True)
    link.symlink_to(day_file.resolve())
    return link
