"""Session fixtures shared across test folders: the flight exports and one run of the bundled example."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from pipeline_testkit import DemoRun, copy_example, run_cli, shared_file


@pytest.fixture(scope="session")
def flight_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The twelve monthly flight CSV exports, written once per test session."""
    from kpi_alignment.demo_data import write_monthly_flight_exports

    drop = tmp_path_factory.mktemp("flight-exports")
    write_monthly_flight_exports(drop)
    return drop


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory, flight_exports: Path) -> DemoRun:
    """The example pipeline run once per session (about a minute); tests read its outputs, never modify them."""
    root = tmp_path_factory.mktemp("demo")
    project = copy_example(root / "airline", flight_exports)
    output = root / "out"
    process = run_cli("run", "--project", str(project), env={"KPI_ALIGN_OUTPUT_DIR": str(output)})
    return DemoRun(project, output, process)


@pytest.fixture
def cases() -> Path:
    """``../shared/cases`` beside the repo; skipped where it is absent (a user's own clone)."""
    return shared_file("cases").resolve()


@pytest.fixture
def real_data() -> Path:
    """``../shared/real-data`` beside the repo; skipped where it is absent (a user's own clone)."""
    return shared_file("real-data").resolve()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory that a test delivers its files into."""
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to a real DuckDB file (closed after the test)."""
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()
