"""How the product's dbt project is pointed at one kpi-alignment project.

The dbt project in ``dbt_project/`` is shared by every kpi-alignment project; what differs per project is passed
in: the DuckDB file (``KPI_ALIGN_DATABASE``) and dbt vars (calendar, severities, derived metric models). A
project's own ``models/`` folder joins through :func:`project_dbt_dir`: a directory in the project's output folder
that links every entry of ``dbt_project/`` and adds ``project_models`` -> the project's ``models/``. (An absolute
path in ``model-paths`` would make dbt write compiled SQL over the project's own model files; see
``dbt_project/README.md``.) The manifest is written to the project's output directory too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from kpi_alignment.project import REPO_ROOT, Project
from kpi_alignment.sources import ApiSource
from kpi_alignment.warehouse import WarehousePaths

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# The dbt installed beside this Python (a venv need not be activated for its scripts to be on PATH).
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")


class DbtError(RuntimeError):
    """A dbt command failed; the message holds the tail of dbt's output."""


def dbt_env(project: Project, database: Path | None = None) -> dict[str, str]:
    """Environment variables for a dbt process (merged over the current environment)."""
    paths = WarehousePaths(project.output_dir)
    env = dict(os.environ)
    env["KPI_ALIGN_DATABASE"] = str(database or paths.database)
    warehouse = project.settings.warehouse
    if warehouse.threads:
        env["KPI_ALIGN_DBT_THREADS"] = str(warehouse.threads)
    if warehouse.memory_limit:
        env["KPI_ALIGN_DUCKDB_MEMORY_LIMIT"] = warehouse.memory_limit
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def dbt_vars(project: Project, evaluation_date: dt.date | None = None) -> dict[str, Any]:
    """dbt ``--vars`` for a run. ``evaluation_date`` None lets models read it from ``catalog.run_context``."""
    s = project.settings
    out: dict[str, Any] = {
        "derived_metric_models": list(s.derived_metric_models),
        "week_start": s.calendar.week_start,
        "fiscal_year_start_month": s.calendar.fiscal_year_start_month,
        "severity": s.severity.model_dump(),
        "grace_days": s.grace_days.model_dump(),
        "rag_thresholds": s.scoring.rag.model_dump(),
        "expected_progress": s.scoring.expected_progress,
        "trend_flat_tolerance": s.scoring.trend_flat_tolerance,
        "objective_score_grains": list(s.scoring.objective_score_grains),
        # due dates of fct_source_freshness
        "source_expected_every": {src.name: src.expected_every for src in project.sources if src.expected_every},
        # incremental int_metric_values_latest: an API run may replace all of its source's rows
        "api_sources": [src.name for src in project.sources if isinstance(src, ApiSource)],
        "metric_values_lookback_hours": s.metric_values_lookback_hours,
    }
    if evaluation_date is not None:
        out["evaluation_date"] = evaluation_date.isoformat()
    return out


_LINKED_ENTRIES = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests", "snapshots")


def project_dbt_dir(project: Project) -> Path:
    """The dbt project directory for ``project``: links to ``dbt_project/`` entries plus its ``models/``.

    Created (or repaired) idempotently in ``<output_dir>/dbt_project``. Without a ``models/`` folder the
    ``project_models`` link is absent and dbt ignores the path.
    """
    dest = WarehousePaths(project.output_dir).output_dir / "dbt_project"
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {entry: DBT_PROJECT_DIR / entry for entry in _LINKED_ENTRIES}
    if project.models_dir is not None:
        wanted["project_models"] = project.models_dir.resolve()
    for name in {*wanted, "project_models"}:
        link = dest / name
        target = wanted.get(name)
        if link.is_symlink() and (target is None or link.resolve() != target.resolve()):
            link.unlink()
        if target is not None and not link.is_symlink():
            link.symlink_to(target, target_is_directory=target.is_dir())
    return dest


def target_path(project: Project) -> Path:
    return WarehousePaths(project.output_dir).dbt_target_dir


def manifest_path(project: Project) -> Path:
    return target_path(project) / "manifest.json"


def dbt_command(
    project: Project,
    args: list[str],
    *,
    evaluation_date: dt.date | None = None,
    vars_override: dict[str, Any] | None = None,
    target: Path | None = None,
) -> list[str]:
    """The full argv of a dbt invocation for ``project`` (project dir, profiles, target path, vars)."""
    return [
        str(DBT_EXECUTABLE),
        *args,
        "--project-dir",
        str(project_dbt_dir(project)),
        "--profiles-dir",
        str(project_dbt_dir(project)),
        "--target-path",
        str(target or target_path(project)),
        "--vars",
        json.dumps({**dbt_vars(project, evaluation_date), **(vars_override or {})}),
    ]


def run_dbt(
    project: Project,
    args: list[str],
    *,
    database: Path | None = None,
    vars_override: dict[str, Any] | None = None,
    target: Path | None = None,
) -> str:
    """Run dbt to completion; returns its output. Raises :class:`DbtError` with the output tail on failure.

    ``database``/``target``/``vars_override`` point a one-off run (e.g. the catalog-only check) elsewhere than the
    project's warehouse and manifest, which the pipeline relies on.
    """
    proc = subprocess.run(
        dbt_command(project, args, vars_override=vars_override, target=target),
        env=dbt_env(project, database),
        cwd=project_dbt_dir(project),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise DbtError(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def manifest_is_stale(project: Project) -> bool:
    """True when the manifest is missing or older than any dbt file, project model, or the settings file."""
    manifest = manifest_path(project)
    if not manifest.is_file():
        return True
    built = manifest.stat().st_mtime
    roots = [DBT_PROJECT_DIR / d for d in ("models", "macros", "tests", "snapshots")]
    roots += [DBT_PROJECT_DIR / "dbt_project.yml", project.root / "kpi-align.yml"]
    if project.models_dir is not None:
        roots.append(project.models_dir)
    for root in roots:
        files = [root] if root.is_file() else (p for p in root.rglob("*") if p.is_file())
        if any(f.stat().st_mtime > built for f in files):
            return True
    return False


def ensure_manifest(project: Project) -> Path:
    """Run ``dbt parse`` for ``project`` when its manifest is missing or stale; returns the manifest path."""
    if manifest_is_stale(project):
        target_path(project).mkdir(parents=True, exist_ok=True)
        run_dbt(project, ["parse", "--quiet"])
    return manifest_path(project)
