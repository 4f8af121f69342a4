"""Helpers shared by the pipeline tests: ../shared paths (skip when absent), the real CLI, example copies."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
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


def copy_example(dest: Path, flight_exports: Path | None = None) -> Path:
    """A copy of the bundled example project in ``dest`` (without outputs), with the flight exports if given."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".kpi-align", "data"))
    if flight_exports is not None:
        shutil.copytree(flight_exports, dest / "data" / "flights")
    return dest


@dataclass(frozen=True)
class DemoRun:
    """One ``kpi-align run`` of a copy of the bundled example: its project, outputs and the finished process."""

    project: Path
    output: Path
    process: subprocess.CompletedProcess[str]

    @property
    def served(self) -> Path:
        return self.output / "serving" / "kpi_alignment.duckdb"

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        """Rows of ``sql`` against the published marts (read-only)."""
        import duckdb

        con = duckdb.connect(str(self.served), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()
