"""Write one report: ``reports/alignment-<date>-<run>.html`` + ``.json`` + ``.md``, then ``latest.*``.

Data come from the published snapshot (``serving/kpi_alignment.duckdb``), opened read-only, so a report never
mixes two runs. ``latest.*`` are replaced atomically only after every file of this report is written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from kpi_alignment.project import Project
from kpi_alignment.report.findings import gather_findings
from kpi_alignment.warehouse import WarehousePaths, connect

_ENV = Environment(
    loader=PackageLoader("kpi_alignment.report", "templates"),
    autoescape=select_autoescape(["html", "j2"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class ReportFiles:
    """Paths of one written report and its Markdown text (for chat bodies and Dagster previews)."""

    html: Path
    json: Path
    markdown: Path
    markdown_text: str


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if unit in ("ratio", "share") or (unit == "" and abs(value) <= 1.0):
            return f"{value:.1%}"
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


_ENV.filters["fmt"] = _fmt


def render_html(report: dict[str, Any]) -> str:
    """The self-contained HTML page (inline CSS, no external requests). Every string is escaped."""
    return _ENV.get_template("report.html.j2").render(r=report)


def render_markdown(report: dict[str, Any]) -> str:
    """A short summary for chat or e-mail bodies."""
    return _ENV.get_template("summary.md.j2").render(r=report)


def build_report(project: Project, paths: WarehousePaths, *, run_id: str) -> ReportFiles:
    """Gather findings from the published marts and write HTML, JSON and Markdown, then update ``latest.*``.

    Raises ``FileNotFoundError`` when nothing has been published yet.
    """
    if not paths.serving_database.is_file():
        raise FileNotFoundError(f"{paths.serving_database} does not exist: the marts were never published")
    con = connect(paths.serving_database, read_only=True)
    try:
        findings = gather_findings(con)
    finally:
        con.close()
    report = {
        "project": project.settings.name,
        "title": project.settings.title or f"KPI alignment — {project.settings.name}",
        "generated_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "run_id": run_id,
        "catalog_revision": project.catalog_revision(),
        "reproduce": f"kpi-align run --project {project.root}",
        **findings,
    }
    paths.reports_dir.mkdir(parents=True, exist_ok=True)
    stem = f"alignment-{report['evaluation_date'] or 'undated'}-{run_id[:8]}"
    outputs = {
        "html": render_html(report),
        "json": json.dumps(report, indent=2, default=str),
        "md": render_markdown(report),
    }
    written: dict[str, Path] = {}
    for ext, text in outputs.items():
        written[ext] = _atomic_write(paths.reports_dir / f"{stem}.{ext}", text)
    for ext, text in outputs.items():
        _atomic_write(paths.reports_dir / f"latest.{ext}", text)
    return ReportFiles(written["html"], written["json"], written["md"], outputs["md"])


def _atomic_write(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
