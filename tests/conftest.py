"""Session fixtures shared across test folders: the pool of background runs, the flight exports and one run of the
bundled example."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from pipeline_testkit import DemoRun, RunPool, background, copy_example, run_cli, shared_file


def _workers() -> int:
    """Background runs at once (``KPI_ALIGN_TEST_RUNS``): two keep both cores of a CI machine busy beside the tests
    of the main thread, whose own dbt subprocesses are the third."""
    return int(os.environ.get("KPI_ALIGN_TEST_RUNS", "2"))


@pytest.fixture(scope="session", autouse=True)
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunPool]:
    """The expensive runs (see ``pipeline_testkit.background``) that some collected test needs, started now: this
    fixture is set up before the first test."""
    wanted = {n for item in request.session.items for n in getattr(item, "fixturenames", ())}
    pool = RunPool(lambda name: tmp_path_factory.mktemp(name), _workers())
    pool.start(wanted)
    try:
        yield pool
    finally:
        pool.close()


@background("flight_exports", priority=0)
def _flight_exports(root: Path, runs: RunPool) -> Path:
    from kpi_alignment.demo_data import write_monthly_flight_exports

    write_monthly_flight_exports(root)
    return root


@background("demo_run", after=("flight_exports",), priority=1)
def _demo_run(root: Path, runs: RunPool) -> DemoRun:
    project = copy_example(root / "airline", runs.result("flight_exports"))
    output = root / "out"
    process = run_cli("run", "--project", str(project), env={"KPI_ALIGN_OUTPUT_DIR": str(output)})
    return DemoRun(project, output, process)


@pytest.fixture(scope="session")
def flight_exports(runs: RunPool) -> Path:
    """The twelve monthly flight CSV exports, written once per test session."""
    return runs.result("flight_exports")


@pytest.fixture(scope="session")
def demo_run(runs: RunPool) -> DemoRun:
    """The example pipeline run once per session (about a minute); tests read its outputs, never modify them."""
    return runs.result("demo_run")


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


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules whose tests wait for a background run go last (in their order; every module stays in one piece): the
    main thread runs the other tests meanwhile instead of waiting, or running those jobs itself, at the start."""
    from pipeline_testkit import JOBS

    def waits(item: pytest.Item) -> bool:
        return any(name in JOBS for name in getattr(item, "fixturenames", ()))

    later = {item.module for item in items if item.module is not None and waits(item)}  # type: ignore[attr-defined]
    items[:] = [i for i in items if i.module not in later] + [i for i in items if i.module in later]  # type: ignore[attr-defined]
