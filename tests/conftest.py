"""Shared test fixtures: paths to ../shared (skipped when absent), and a prepared copy of the bundled example."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CASES = SHARED / "cases"
REAL_DATA = SHARED / "real-data"
EXAMPLE = REPO / "examples" / "airline"
KPI_ALIGN = str(Path(sys.executable).with_name("kpi-align"))


def shared_file(*parts: str) -> Path:
    """A file under ../shared, or skip the test when the folder is absent (a user's own clone)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present: ../shared is only beside the repo in development and CI")
    return path


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """Run the real ``kpi-align`` console script; returns the completed process (never raises on exit code)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [KPI_ALIGN, *args], capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def flight_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The twelve monthly flight CSV exports, written once per test session."""
    from kpi_alignment.demo_data import write_monthly_flight_exports

    drop = tmp_path_factory.mktemp("flight-exports")
    write_monthly_flight_exports(drop)
    return drop


def copy_example(dest: Path, flight_exports: Path | None = None) -> Path:
    """A copy of the bundled example project in ``dest`` (without outputs), with the flight exports if given."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".kpi-align", "data"))
    if flight_exports is not None:
        shutil.copytree(flight_exports, dest / "data" / "flights")
    return dest
