"""Fixtures for the case regression tests: ``../shared/cases`` and a real DuckDB file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from cases_testkit import SHARED


@pytest.fixture
def cases() -> Path:
    """``../shared/cases`` beside the repo; skipped where it is absent (a user's own clone)."""
    path = SHARED / "cases"
    if not path.is_dir():
        pytest.skip(f"{path} not present: ../shared sits beside the repo only in development and CI")
    return path.resolve()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory the case file is delivered into."""
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to a real DuckDB file (closed after the test)."""
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()
