"""Helpers for ingest tests (imported by name: the test folders are not packages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from ingest.csv_loader import SourceLoadResult, load_csv_source
from kpi_alignment.sources import CsvSource

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"


def csv_source(**fields: Any) -> CsvSource:
    """A validated :class:`CsvSource` from keyword fields (name defaults to ``src``)."""
    return CsvSource.model_validate({"name": "src", **fields})


def load(con: duckdb.DuckDBPyConnection, source: CsvSource, root: Path, load_id: str = "L1") -> SourceLoadResult:
    """Load ``source`` and return the result (a thin alias keeping tests short)."""
    return load_csv_source(con, source, root, load_id)


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    return con.execute(sql, params or []).fetchall()
