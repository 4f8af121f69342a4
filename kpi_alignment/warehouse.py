"""Where the DuckDB files are, and the one rule for touching them: a single writer at a time.

DuckDB allows one read-write process per file (cases B15, B16). Every writer — ingest assets, the catalog
loader, the dbt step, publishing — runs inside :func:`writer_lock`, a file lock beside the database that is
shared by every process (Dagster's multiprocess executor, ``kpi-align``, a second ``dg dev``). BI tools never
open the working file: they read the published copy (:func:`serving_path`), which is replaced atomically.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb
from filelock import FileLock, Timeout

DEFAULT_LOCK_TIMEOUT_S = 1800.0
DEFAULT_DB_LOCK_WAIT_S = 600.0
"""How long a writer waits for a *DuckDB* file lock held outside our writer lock (a notebook or BI tool that opened
the working file, a dbt process left behind by a killed run) before failing with the holder's name."""

_T = TypeVar("_T")

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


def _lock_holder(error: duckdb.Error) -> str | None:
    """The holder DuckDB names in a lock conflict ("/usr/bin/python3 (PID 123)"), None if ``error`` is no conflict."""
    text = str(error)
    if "Could not set lock on file" not in text:
        return None
    found = re.search(r"Conflicting lock is held in (.+?\(PID \d+\))", text)
    return found.group(1) if found else "another process"


def retry_while_locked(action: Callable[[], _T], database: Path, *, wait_s: float | None = None) -> _T:
    """Run ``action`` (which opens ``database``), retrying with backoff while another process holds its file lock.

    Only DuckDB's "Could not set lock" conflict is retried (cases B15, B16); every other error is raised at once.
    Raises :class:`WarehouseBusy` naming the holder (program and PID) when the lock is still held after ``wait_s``
    seconds (default :data:`DEFAULT_DB_LOCK_WAIT_S`).
    """
    wait_s = DEFAULT_DB_LOCK_WAIT_S if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    delay = 0.1
    while True:
        try:
            return action()
        except duckdb.IOException as e:
            holder = _lock_holder(e)
            if holder is None:
                raise
            if time.monotonic() + delay > deadline:
                raise WarehouseBusy(
                    f"{database} has been locked by {holder} for over {wait_s:.0f}s. Only kpi-align may open this "
                    "file read-write; BI tools and notebooks must open serving/kpi_alignment.duckdb read-only "
                    "(see README, 'Connecting BI tools')"
                ) from e
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def connect_writer(
    database: Path,
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    wait_s: float | None = None,
) -> duckdb.DuckDBPyConnection:
    """A read-write connection to ``database``, waiting (bounded) for a foreign DuckDB lock to go away.

    Call it while holding :func:`writer_lock`; raises :class:`WarehouseBusy` naming the holder after ``wait_s``.
    """
    return retry_while_locked(
        lambda: connect(database, threads=threads, memory_limit=memory_limit), database, wait_s=wait_s
    )


def wait_until_writable(paths: WarehousePaths, *, wait_s: float | None = None) -> None:
    """Block (bounded) until this process could open the working database read-write, then return.

    For writers that open the file themselves (the ``dbt build`` subprocess): called under :func:`writer_lock` so
    that a process outside the lock protocol still holding the file fails the step with the holder's name instead
    of failing dbt half-way. Raises :class:`WarehouseBusy` after ``wait_s``.
    """
    connect_writer(paths.database, wait_s=wait_s).close()


@contextlib.contextmanager
def write_connection(
    paths: WarehousePaths, *, threads: int | None = None, memory_limit: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The writer lock plus a read-write connection to the working database, closed on exit.

    Raises :class:`WarehouseBusy` if another kpi-align writer keeps the lock past its timeout, or a process outside
    the lock protocol keeps the file itself locked (see :func:`connect_writer`).
    """
    with writer_lock(paths):
        con = connect_writer(paths.database, threads=threads, memory_limit=memory_limit)
        try:
            yield con
        finally:
            con.close()
