"""Fixture warehouse for the dbt tests: the ``catalog.*`` and ``raw.*`` tables of docs/architecture.md, filled
with small hand-made rows, and a runner for the real dbt project against that file.

The tables are created here with SQL (not by ``ingest/``) so that the dbt layer is tested alone, against the
contract rather than against another layer's code.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"

PROVENANCE = (
    "source_name VARCHAR, source_file VARCHAR, file_hash VARCHAR, source_row BIGINT, load_id VARCHAR, "
    "loaded_at TIMESTAMP"
)

# docs/architecture.md, "DuckDB contract between layers"
_OBJECTIVE_COLUMNS = (
    "objective_id VARCHAR, name VARCHAR, description VARCHAR, level VARCHAR, parent_objective_id VARCHAR, "
    "owner VARCHAR, time_frame_start DATE, time_frame_end DATE, status VARCHAR, catalog_file VARCHAR"
)
_KPI_COLUMNS = (
    "kpi_id VARCHAR, name VARCHAR, description VARCHAR, unit VARCHAR, direction VARCHAR, aggregation VARCHAR, "
    "grain VARCHAR, owner VARCHAR, status VARCHAR, parent_kpi_id VARCHAR, expected_within_days INTEGER, "
    "catalog_file VARCHAR"
)
_LINK_COLUMNS = (
    "kpi_id VARCHAR, objective_id VARCHAR, weight DOUBLE, informational BOOLEAN, valid_from DATE, valid_to DATE"
)
_KPI_METRIC_COLUMNS = "kpi_id VARCHAR, metric_name VARCHAR, role VARCHAR"

TABLES: dict[str, str] = {
    "catalog.objectives": _OBJECTIVE_COLUMNS,
    "catalog.kpis": _KPI_COLUMNS,
    "catalog.kpi_metrics": _KPI_METRIC_COLUMNS,
    "catalog.kpi_links": _LINK_COLUMNS,
    "catalog.targets": (
        "kpi_id VARCHAR, period_start DATE, period_end DATE, target_type VARCHAR, target_value DOUBLE, "
        "lower_value DOUBLE, upper_value DOUBLE, baseline_value DOUBLE"
    ),
    "catalog.run_context": (
        "evaluation_date DATE, catalog_revision VARCHAR, project_name VARCHAR, loaded_at TIMESTAMP"
    ),
    "raw.metric_values": (
        "source_name VARCHAR, metric_name VARCHAR, period_date DATE, dimension VARCHAR NOT NULL DEFAULT '*', "
        "value DOUBLE, target_value DOUBLE, source_file VARCHAR, file_hash VARCHAR, source_row BIGINT, "
        "load_id VARCHAR, loaded_at TIMESTAMP"
    ),
    "raw.file_loads": (
        "source_name VARCHAR, source_file VARCHAR, file_hash VARCHAR, status VARCHAR, source_records BIGINT, "
        "rows_loaded BIGINT, rows_rejected BIGINT, load_id VARCHAR, loaded_at TIMESTAMP, message VARCHAR"
    ),
    "raw.rejects": (
        "source_name VARCHAR, source_file VARCHAR, file_hash VARCHAR, line_number BIGINT, field VARCHAR, "
        "reason VARCHAR, raw_line VARCHAR, load_id VARCHAR, rejected_at TIMESTAMP"
    ),
    "raw.source_objectives": _OBJECTIVE_COLUMNS + ", source_name VARCHAR",
    "raw.source_kpis": _KPI_COLUMNS + ", source_name VARCHAR",
    "raw.source_kpi_links": _LINK_COLUMNS + ", source_name VARCHAR",
    "raw.source_kpi_metrics": _KPI_METRIC_COLUMNS + ", source_name VARCHAR",
}

FLIGHTS_COLUMNS = (
    "year INTEGER, month INTEGER, day INTEGER, dep_time INTEGER, sched_dep_time INTEGER, dep_delay INTEGER, "
    "arr_time INTEGER, sched_arr_time INTEGER, arr_delay INTEGER, carrier VARCHAR, flight INTEGER, "
    "tailnum VARCHAR, origin VARCHAR, dest VARCHAR, air_time INTEGER, distance INTEGER, hour INTEGER, "
    "minute INTEGER, time_hour TIMESTAMP, " + PROVENANCE
)

LOADED_AT = dt.datetime(2024, 7, 1, 6, 0, 0)


def create_warehouse(path: Path, evaluation_date: dt.date | None) -> duckdb.DuckDBPyConnection:
    """Create every ``catalog.*`` / ``raw.*`` table (empty) in a new DuckDB file and return a connection.

    ``evaluation_date`` is written as the single ``catalog.run_context`` row (None = no row).
    """
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists catalog")
    con.execute("create schema if not exists raw")
    for table, columns in TABLES.items():
        con.execute(f"create table {table} ({columns})")
    if evaluation_date is not None:
        con.execute(
            "insert into catalog.run_context values (?, 'test-revision', 'fixture', ?)",
            [evaluation_date, LOADED_AT],
        )
    return con


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[dict[str, Any]]) -> None:
    """Insert dict rows into ``table`` (missing columns stay null / default)."""
    for row in rows:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"insert into {table} ({columns}) values ({marks})", list(row.values()))


def objective(
    objective_id: str | None,
    *,
    level: str = "strategic",
    parent: str | None = None,
    status: str = "active",
    start: dt.date = dt.date(2024, 1, 1),
    end: dt.date | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """A ``catalog.objectives`` row with defaults: strategic, active, from 2024-01-01 with no end."""
    return {
        "objective_id": objective_id,
        "name": name if name is not None else f"Objective {objective_id}",
        "description": "",
        "level": level,
        "parent_objective_id": parent,
        "owner": "strategy office",
        "time_frame_start": start,
        "time_frame_end": end,
        "status": status,
        "catalog_file": "catalog/objectives.yml",
    }


def kpi(
    kpi_id: str,
    *,
    aggregation: str = "sum",
    grain: str = "month",
    direction: str = "higher_is_better",
    status: str = "active",
    parent: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """A ``catalog.kpis`` row with defaults: monthly sum, higher is better, active."""
    return {
        "kpi_id": kpi_id,
        "name": name if name is not None else f"KPI {kpi_id}",
        "description": "",
        "unit": "count",
        "direction": direction,
        "aggregation": aggregation,
        "grain": grain,
        "owner": "ops",
        "status": status,
        "parent_kpi_id": parent,
        "expected_within_days": None,
        "catalog_file": "catalog/kpis.yml",
    }


def link(
    kpi_id: str | None,
    objective_id: str | None,
    *,
    informational: bool = False,
    valid_from: dt.date | None = None,
    valid_to: dt.date | None = None,
) -> dict[str, Any]:
    """A ``catalog.kpi_links`` row (weight 1)."""
    return {
        "kpi_id": kpi_id,
        "objective_id": objective_id,
        "weight": 1.0,
        "informational": informational,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }


def metric_value(
    metric_name: str,
    period_date: dt.date,
    value: float | None,
    *,
    dimension: str = "*",
    target_value: float | None = None,
    source_name: str = "fixture_source",
    source_file: str = "data/fixture.csv",
    loaded_at: dt.datetime = LOADED_AT,
    source_row: int = 1,
) -> dict[str, Any]:
    """A ``raw.metric_values`` row with provenance."""
    return {
        "source_name": source_name,
        "metric_name": metric_name,
        "period_date": period_date,
        "dimension": dimension,
        "value": value,
        "target_value": target_value,
        "source_file": source_file,
        "file_hash": "hash",
        "source_row": source_row,
        "load_id": "load-1",
        "loaded_at": loaded_at,
    }


def dbt_project_with_models(dest: Path, project_models: Path) -> Path:
    """A dbt project directory in ``dest`` that is ``dbt_project/`` plus a kpi-alignment project's models.

    Every entry of ``dbt_project/`` is linked, and ``project_models`` links to ``project_models`` (the folder
    dbt_project.yml lists second in model-paths). Model paths stay relative, so dbt writes compiled SQL under
    its target path and never over the project's own model files (see dbt_project/README.md).
    """
    dest.mkdir(parents=True, exist_ok=True)
    for entry in ("dbt_project.yml", "profiles.yml", "models", "macros", "tests", "snapshots"):
        (dest / entry).symlink_to(DBT_PROJECT_DIR / entry)
    (dest / "project_models").symlink_to(project_models.resolve(), target_is_directory=True)
    return dest


@dataclass
class DbtResult:
    """Outcome of one dbt invocation: exit code, output, and run_results.json parsed by node."""

    returncode: int
    output: str
    results: dict[str, dict[str, Any]]

    def status_of(self, name_fragment: str) -> str:
        """Status of the single node whose unique_id contains ``name_fragment``."""
        hits = [r for uid, r in self.results.items() if name_fragment in uid]
        if len(hits) != 1:
            raise AssertionError(f"{len(hits)} nodes match {name_fragment!r}: {sorted(self.results)}")
        return hits[0]["status"]

    def failures_of(self, name_fragment: str) -> int:
        hits = [r for uid, r in self.results.items() if name_fragment in uid]
        if len(hits) != 1:
            raise AssertionError(f"{len(hits)} nodes match {name_fragment!r}")
        return int(hits[0].get("failures") or 0)


def run_dbt(
    args: Sequence[str],
    *,
    database: Path,
    target_path: Path,
    project_dir: Path = DBT_PROJECT_DIR,
    dbt_vars: dict[str, Any] | None = None,
) -> DbtResult:
    """Run the real dbt CLI on ``project_dir`` against ``database`` and return its run results.

    ``target_path`` receives manifest, compiled SQL, run_results.json and logs.
    """
    env = {
        **os.environ,
        "KPI_ALIGN_DATABASE": str(database),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    command = [
        str(DBT_EXECUTABLE),
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
    ]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars, default=str)]
    run_results = target_path / "run_results.json"
    run_results.unlink(missing_ok=True)
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    results: dict[str, dict[str, Any]] = {}
    if run_results.is_file():
        for r in json.loads(run_results.read_text())["results"]:
            results[r["unique_id"]] = r
    return DbtResult(proc.returncode, proc.stdout + proc.stderr, results)


def query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` from ``database`` opened read-only."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def query_dicts(database: Path, sql: str) -> list[dict[str, Any]]:
    """Rows of ``sql`` as dicts."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()
