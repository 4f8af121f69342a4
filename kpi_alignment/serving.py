"""Publishing the marts to the file BI tools read (case B15).

The pipeline writes only ``warehouse.duckdb``. After a successful build, :func:`publish_marts` copies every table
of the ``marts`` schema into a new DuckDB file beside the served one, checkpoints it, and renames it over
``serving/kpi_alignment.duckdb`` (an atomic replace on POSIX). A BI tool holding the old file open keeps reading
the old, complete snapshot; its next connection sees the new one. Nobody ever sees a half-built state, and the pipeline
never waits for a reader. Parquet copies of the marts are written the same way for tools that prefer files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kpi_alignment.warehouse import WarehousePaths, connect, writer_lock

MARTS_SCHEMA = "marts"


@dataclass(frozen=True)
class PublishResult:
    """What was published: the served file, the table names and their row counts."""

    database: Path
    tables: dict[str, int]


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def publish_marts(
    paths: WarehousePaths, *, threads: int | None = None, memory_limit: str | None = None
) -> PublishResult:
    """Copy ``marts.*`` from the working database to the served file atomically.

    Raises ``RuntimeError`` if the working database has no marts (nothing is replaced then).
    """
    paths.serving_dir.mkdir(parents=True, exist_ok=True)
    staging = paths.serving_dir / f".marts.{os.getpid()}.duckdb.tmp"
    staging.unlink(missing_ok=True)
    tables: dict[str, int] = {}
    with writer_lock(paths):
        con = connect(staging, threads=threads, memory_limit=memory_limit)
        try:
            con.execute(f"attach {_sql_string(paths.database)} as working (read_only)")
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
            # The served file is named marts.duckdb, so qualify everything to avoid catalog/schema clashes.
            local = con.execute("select current_database()").fetchall()[0][0]
            con.execute(f"create schema {_quote(local)}.{MARTS_SCHEMA}")
            parquet_dir = paths.serving_dir / "parquet"
            parquet_dir.mkdir(exist_ok=True)
            for name in names:
                table = f"{_quote(local)}.{MARTS_SCHEMA}.{_quote(name)}"
                con.execute(f"create table {table} as select * from working.{MARTS_SCHEMA}.{_quote(name)}")
                tables[name] = con.execute(f"select count(*) from {table}").fetchall()[0][0]
                tmp_parquet = parquet_dir / f".{name}.parquet.tmp"
                con.execute(f"copy {table} to {_sql_string(tmp_parquet)} (format parquet)")
                os.replace(tmp_parquet, parquet_dir / f"{name}.parquet")
            con.execute("detach working")
            con.execute("checkpoint")
        except BaseException:
            con.close()
            staging.unlink(missing_ok=True)
            raise
        con.close()
        os.replace(staging, paths.serving_database)
    return PublishResult(paths.serving_database, tables)


def _sql_string(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
