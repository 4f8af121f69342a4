"""Where the DuckDB files are, and the one rule for touching them: a single writer at a time.

DuckDB allows one read-write process per file (cases B15, B16). Every writer — ingest assets, the catalog
loader, the dbt step, publishing — runs inside :func:`writer_lock`, a file lock beside the database that is
shared by every process (Dagster's multiprocess executor, ``kpi-align``, a second ``dg dev``). BI tools never
open the working file: they read the published copy (:func:`serving_path`), which is replaced atomically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

DEFAULT_LOCK_TIMEOUT_S = 1800.0

# Writers also queue in Dagster (pool duckdb_write, one at a time) so the UI shows them waiting, not failing.
_DAGSTER_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    granularity: op
    default_limit: 1
"""


@dataclass(frozen=True)
class WarehousePaths:
    """All files of one project's output directory."""

    output_dir: Path

    @property
    def database(self) -> Path:
        """The working DuckDB file (single writer)."""
        return self.output_dir / "warehouse.duckdb"

    @property
    def lock(self) -> Path:
        return self.output_dir / "warehouse.duckdb.writer.lock"

    @property
    def serving_dir(self) -> Path:
        return self.output_dir / "serving"

    @property
    def serving_database(self) -> Path:
        """The published copy BI tools open read-only."""
        return self.serving_dir / "kpi_alignment.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.output_dir / "reports"

    @property
    def dbt_target_dir(self) -> Path:
        return self.output_dir / "dbt_target"

    @property
    def dagster_home(self) -> Path:
        return self.output_dir / "dagster_home"

    @property
    def logs_dir(self) -> Path:
        return self.output_dir / "logs"

    def ensure(self) -> WarehousePaths:
        """Create the folders, and a Dagster instance config whose ``duckdb_write`` pool admits one step."""
        for d in (self.output_dir, self.serving_dir, self.reports_dir, self.dagster_home, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
        instance_yaml = self.dagster_home / "dagster.yaml"
        if not instance_yaml.exists():
            instance_yaml.write_text(_DAGSTER_YAML, encoding="utf-8")
        return self


class WarehouseBusy(RuntimeError):
    """Another writer held the warehouse for longer than the timeout."""


@contextlib.contextmanager
def writer_lock(paths: WarehousePaths, timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the cross-process writer lock of ``paths.database``; raises :class:`WarehouseBusy` on timeout."""
    paths.output_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(paths.lock))
    try:
        lock.acquire(timeout=timeout_s)
    except Timeout as e:
        raise WarehouseBusy(
            f"another kpi-align process has been writing {paths.database} for over {timeout_s:.0f}s "
            f"(lock file {paths.lock})"
        ) from e
    try:
        yield
    finally:
        lock.release()


def connect(
    database: Path, *, read_only: bool = False, threads: int | None = None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection with the project's settings. Writers must hold :func:`writer_lock`."""
    config: dict[str, str | int] = {}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    return duckdb.connect(str(database), read_only=read_only, config=config)


@contextlib.contextmanager
def write_connection(
    paths: WarehousePaths, *, threads: int | None = None, memory_limit: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The writer lock plus a read-write connection to the working database, closed on exit."""
    with writer_lock(paths):
        con = connect(paths.database, threads=threads, memory_limit=memory_limit)
        try:
            yield con
        finally:
            con.close()
