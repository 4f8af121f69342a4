"""How the product's dbt project is pointed at one kpi-alignment project.

The dbt project in ``dbt_project/`` is shared by every kpi-alignment project; what differs per project is passed
in: the DuckDB file (``KPI_ALIGN_DATABASE``), the project's own models folder (``KPI_ALIGN_PROJECT_MODELS``, added
to dbt's model-paths) and dbt vars (evaluation date, calendar, severities, derived metric models). The manifest is
written to the project's output directory, so two projects never share one.
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
from kpi_alignment.warehouse import WarehousePaths

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


class DbtError(RuntimeError):
    """A dbt command failed; the message holds the tail of dbt's output."""


def dbt_env(project: Project, database: Path | None = None) -> dict[str, str]:
    """Environment variables for a dbt process (merged over the current environment)."""
    paths = WarehousePaths(project.output_dir)
    env = dict(os.environ)
    env["KPI_ALIGN_DATABASE"] = str(database or paths.database)
    if project.models_dir is not None:
        env["KPI_ALIGN_PROJECT_MODELS"] = str(project.models_dir)
    else:
        env.pop("KPI_ALIGN_PROJECT_MODELS", None)
    if project.settings.warehouse.threads:
        env["KPI_ALIGN_DBT_THREADS"] = str(project.settings.warehouse.threads)
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
    }
    if evaluation_date is not None:
        out["evaluation_date"] = evaluation_date.isoformat()
    return out


def target_path(project: Project) -> Path:
    return WarehousePaths(project.output_dir).dbt_target_dir


def manifest_path(project: Project) -> Path:
    return target_path(project) / "manifest.json"


def dbt_command(project: Project, args: list[str], *, evaluation_date: dt.date | None = None) -> list[str]:
    """The full argv of a dbt invocation for ``project`` (project dir, profiles, target path, vars)."""
    return [
        str(Path(sys.executable).with_name("dbt")),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_path(project)),
        "--vars",
        json.dumps(dbt_vars(project, evaluation_date)),
    ]


def run_dbt(project: Project, args: list[str], *, database: Path | None = None) -> str:
    """Run dbt to completion; returns its output. Raises :class:`DbtError` with the output tail on failure."""
    proc = subprocess.run(
        dbt_command(project, args),
        env=dbt_env(project, database),
        cwd=DBT_PROJECT_DIR,
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
