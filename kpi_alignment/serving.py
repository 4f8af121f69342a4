"""Publishing the marts to the files BI tools read (case B15).

The pipeline writes only ``warehouse.duckdb``. After a successful build, :func:`publish_marts` copies every table
of the ``marts`` schema into a new DuckDB file beside the served one and writes each table as Parquet into a new
version folder, then switches both in two renames:

* ``serving/kpi_alignment.duckdb`` is replaced by ``os.replace`` (atomic on POSIX). A BI tool holding the old file
  open keeps reading the old, complete snapshot; its next connection sees the new one.
* ``serving/parquet`` is a symbolic link to the current version folder (``serving/.parquet-<stamp>``); a new link
  is renamed over it, so ``serving/parquet/*.parquet`` is always one run's complete set, never a mix of two runs.

Nothing is switched before every file is complete and checkpointed: a run that fails or is killed before
publishing leaves the published state as it was. Leftovers of a publish killed midway (staging files, unlinked
version folders) are removed by the next publish; only a publish creates them, and publishes hold the writer lock,
so any leftover found under the lock is stale. Nobody ever sees a half-built state, and the pipeline never waits
for a reader.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kpi_alignment.warehouse import WarehousePaths, connect, retry_while_locked, writer_lock

MARTS_SCHEMA = "marts"
_STAGING_PREFIX = ".marts."  # .marts.<pid>.duckdb.tmp (+ its .wal)
_VERSION_PREFIX = ".parquet-"  # .parquet-<UTC stamp>-<pid>: one publish's Parquet files
_LINK_TMP = ".parquet.link.tmp"


@dataclass(frozen=True)
class PublishResult:
    """What was published: the served DuckDB file, the Parquet folder, the table names and their row counts."""

    database: Path
    tables: dict[str, int]
    parquet_dir: Path | None = None


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def publish_marts(
    paths: WarehousePaths, *, threads: int | None = None, memory_limit: str | None = None
) -> PublishResult:
    """Copy ``marts.*`` from the working database to the served DuckDB file and Parquet folder, atomically.

    Output: ``paths.serving_database`` (schema ``marts``, one table per mart) and ``paths.serving_dir/parquet/
    <mart>.parquet``. Raises ``RuntimeError`` if the working database has no marts, :class:`WarehouseBusy` if it
    stays locked; in every failure nothing published is replaced.
    """
    paths.serving_dir.mkdir(parents=True, exist_ok=True)
    tables: dict[str, int] = {}
    with writer_lock(paths):
        remove_publish_leftovers(paths)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        staging = paths.serving_dir / f"{_STAGING_PREFIX}{os.getpid()}.duckdb.tmp"
        version = paths.serving_dir / f"{_VERSION_PREFIX}{stamp}-{os.getpid()}"
        version.mkdir()
        con = connect(staging, threads=threads, memory_limit=memory_limit)
        try:
            # a process outside the lock protocol (a dbt left behind by a killed run) may still hold the file
            retry_while_locked(
                lambda: con.execute(f"attach {_sql_string(paths.database)} as working (read_only)"), paths.database
            )
            names = [
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables where table_catalog = 'working' "
                    "and table_schema = ? and table_type = 'BASE TABLE' order by table_name",
                    [MARTS_SCHEMA],
                ).fetchall()
            ]
            if not names:
                raise RuntimeError(f"{paths.database} has no tables in schema '{MARTS_SCHEMA}': run the pipeline first")
            # qualify everything: the staging file's own catalog name must not clash with a schema name
            local = con.execute("select current_database()").fetchall()[0][0]
            con.execute(f"create schema {_quote(local)}.{MARTS_SCHEMA}")
            for name in names:
                table = f"{_quote(local)}.{MARTS_SCHEMA}.{_quote(name)}"
                con.execute(f"create table {table} as select * from working.{MARTS_SCHEMA}.{_quote(name)}")
                tables[name] = con.execute(f"select count(*) from {table}").fetchall()[0][0]
                con.execute(f"copy {table} to {_sql_string(version / f'{name}.parquet')} (format parquet)")
            con.execute("detach working")
            con.execute("checkpoint")
        except BaseException:
            con.close()
            _remove(staging)
            _remove(version)
            raise
        con.close()
        for written in version.iterdir():
            _fsync(written)
        _fsync(version)
        # Parquet first, then the DuckDB file: both switches are single renames, adjacent, after all data is on disk.
        _switch_parquet_link(paths.serving_dir, version)
        os.replace(staging, paths.serving_database)
        _fsync(paths.serving_dir)
        remove_publish_leftovers(paths)
    return PublishResult(paths.serving_database, tables, paths.serving_dir / "parquet")


def remove_publish_leftovers(paths: WarehousePaths) -> list[Path]:
    """Delete staging files and Parquet version folders no longer linked; returns what was removed.

    Call under :func:`writer_lock` (publishing holds it, so nothing found here belongs to a live publish).
    """
    current = _current_version(paths.serving_dir)
    removed: list[Path] = []
    if not paths.serving_dir.is_dir():
        return removed
    for entry in paths.serving_dir.iterdir():
        stale = entry.name.startswith(_STAGING_PREFIX) or entry.name == _LINK_TMP
        stale = stale or (entry.name.startswith(_VERSION_PREFIX) and entry.name != current)
        if stale:
            _remove(entry)
            removed.append(entry)
    return removed


def _current_version(serving_dir: Path) -> str | None:
    link = serving_dir / "parquet"
    return os.readlink(link) if link.is_symlink() else None


def _switch_parquet_link(serving_dir: Path, version: Path) -> None:
    """Point ``serving/parquet`` at ``version`` with one rename of a fresh relative symlink."""
    link = serving_dir / "parquet"
    tmp = serving_dir / _LINK_TMP
    _remove(tmp)
    os.symlink(version.name, tmp, target_is_directory=True)
    if link.is_dir() and not link.is_symlink():
        # a folder written by an earlier version of kpi-align: a rename cannot replace it, so move it aside first
        link.rename(serving_dir / f"{_VERSION_PREFIX}legacy-{os.getpid()}")
    os.replace(tmp, link)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    if path.name.endswith(".tmp"):
        Path(f"{path}.wal").unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a written file, or a folder's renames and new entries, to disk (a power cut must not undo a publish)."""
    with contextlib.suppress(OSError):  # not every platform/file system lets a directory be opened
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sql_string(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
