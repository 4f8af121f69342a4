"""The marts the report adds (dbt_project/models/marts/_marts__report.yml), checked against the demo run's raw
tables: freshness per source from raw.file_loads, and the evaluation runs."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from dateutil.relativedelta import relativedelta

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def raw(demo_run):
    con = duckdb.connect(str(demo_run.output / "warehouse.duckdb"), read_only=True)
    try:
        loads = con.execute(
            "select source_name, source_file, status, rows_loaded, load_id, loaded_at from raw.file_loads"
        ).fetchall()
        flights = con.execute("select count(*) from raw.flights").fetchall()[0][0]
        context = con.execute(
            "select evaluation_date, catalog_revision, project_name from catalog.run_context"
        ).fetchall()
    finally:
        con.close()
    return loads, flights, context


def test_source_freshness_comes_from_the_file_loads(demo_run, raw) -> None:
    loads, flights, _ = raw
    (row,) = demo_run.query(
        "select source_name, expected_every, n_files, rows_held, last_load_id, last_load_files, "
        "last_load_files_failed, last_new_file, last_new_data_at, expected_by from marts.fct_source_freshness"
    )
    name, every, n_files, held, load_id, files, failed, newest, new_at, due = row
    assert (name, every) == ("flights", "month")  # expected_every: month in sources/flights.yml
    assert n_files == len({f for _, f, *_ in loads}) == 12
    assert held == flights == sum(r for _, _, s, r, _, _ in loads if s in ("loaded", "replaced"))
    assert load_id == max(loads, key=lambda r: r[5])[4] and (files, failed) == (12, 0)
    assert newest == max(f for _, f, *_ in loads) and new_at == max(r[5] for r in loads)
    # due: one month after the newest delivery plus the month's grace days (10 in the example's settings)
    assert due == new_at + relativedelta(months=1) + dt.timedelta(days=10)


def test_evaluation_runs_name_this_build(demo_run, raw) -> None:
    _, _, context = raw
    ((evaluation_date, revision, project_name),) = context
    rows = demo_run.query(
        "select evaluation_date, catalog_revision, project_name, is_this_build, built_at from marts.fct_evaluation_runs"
    )
    assert [r[:4] for r in rows] == [(evaluation_date, revision, project_name, True)]
    assert rows[0][4] is not None


def test_freshness_of_a_failed_load_without_declared_schedules(demo_run, tmp_path) -> None:
    """A real dbt build of the mart on a copy of the demo warehouse where the next load failed one file and no
    source declares expected_every (as the MTA and MMR projects): the failure is named, the rows stay held."""
    import shutil

    from pipeline_testkit import copy_example

    from kpi_alignment.dbt import run_dbt
    from kpi_alignment.project import load_project

    project = load_project(copy_example(tmp_path / "project"))
    database = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_run.output / "warehouse.duckdb", database)
    con = duckdb.connect(str(database))
    try:
        # the next night: eleven files unchanged, December unreadable
        con.execute(
            """
            insert into raw.file_loads by name
            select source_name, source_file, file_hash, config_hash, formula_errors, source_records,
                   case when source_file like '%_12.csv' then 'failed' else 'unchanged' end as status,
                   0 as rows_loaded, 0 as rows_rejected, 'nexthost-0000' as load_id,
                   loaded_at + interval 1 day as loaded_at,
                   case when source_file like '%_12.csv' then 'zero-byte file' else 'same bytes' end as message
            from raw.file_loads
            """
        )
        flights = con.execute("select count(*) from raw.flights").fetchall()[0][0]
    finally:
        con.close()
    run_dbt(
        project,
        ["build", "--select", "fct_source_freshness", "--quiet"],
        database=database,
        vars_override={"source_expected_every": {}},
        target=tmp_path / "target",
    )
    con = duckdb.connect(str(database), read_only=True)
    try:
        row = con.execute(
            "select expected_every, expected_by, last_load_id, last_load_files, last_load_files_failed, "
            "last_load_failures, rows_held, last_new_file from marts.fct_source_freshness"
        ).fetchall()
    finally:
        con.close()
    assert row == [
        (
            None,
            None,
            "nexthost-0000",
            12,
            1,
            "data/flights/flights_2013_12.csv: zero-byte file",
            flights,
            "data/flights/flights_2013_12.csv",
        )
    ]
