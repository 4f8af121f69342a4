"""Helpers for the case regression tests (imported by name: the test folders are not packages)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb

from ingest.csv_loader import FileLoadResult, load_csv_source
from kpi_alignment.sources import CsvSource

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"


def deliver(case_file: Path, project: Path, name: str | None = None) -> Path:
    """Copy a case input into the test's project folder (tmp only: inputs are never copied into the repo)."""
    target = project / (name or case_file.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(case_file, target)
    return target


def load_one(con: duckdb.DuckDBPyConnection, project: Path, load_id: str = "L1", **fields: Any) -> FileLoadResult:
    """Validate a source from ``fields`` (name defaults to ``case``), load it, return its only file's result."""
    source = CsvSource.model_validate({"name": "case", **fields})
    result = load_csv_source(con, source, project, load_id)
    assert len(result.files) == 1, result.file_messages()
    return result.files[0]


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    return con.execute(sql, params or []).fetchall()
