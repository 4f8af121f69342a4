"""Idempotency: the same night twice gives identical marts and leaves the raw tables as they were (B17, B30); a
restated file replaces its earlier rows and the revision stays in the load history."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingest.csv_loader import load_csv_source
from kpi_alignment.sources import CsvSource


@pytest.mark.slow
def test_same_night_twice_gives_identical_marts(second_night) -> None:
    assert second_night.run.process.returncode == 0, second_night.run.describe()
    assert sorted(second_night.marts_after) == sorted(second_night.marts_before)
    for table, rows in second_night.marts_before.items():
        assert second_night.marts_after[table] == rows, table


@pytest.mark.slow
def test_same_night_twice_leaves_raw_tables_unchanged(second_night) -> None:
    assert second_night.raw_after == second_night.raw_before
    files = len(list((second_night.output.parent / "project" / "data" / "flights").glob("*.csv")))
    assert second_night.file_statuses == [("unchanged", files)]


SOURCE = CsvSource.model_validate(
    {
        "name": "dept",
        "path": "drop/*.csv",
        "layout": "long",
        "columns": {"date": "date", "metric": "varchar", "value": "double"},
        "date": {"column": "date", "format": "%Y-%m-%d"},
        "metric_column": "metric",
        "value_column": "value",
    }
)


def _values(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select metric_name, period_date::varchar, value from raw.metric_values order by 1, 2"
    ).fetchall()


def test_restated_file_replaces_its_rows_and_keeps_the_revision(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "dept_2024-05.csv").write_text("date,metric,value\n2024-05-01,headcount,120\n2024-05-01,leavers,3\n")
    (drop / "dept_2024-04.csv").write_text("date,metric,value\n2024-04-01,headcount,118\n")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        load_csv_source(con, SOURCE, tmp_path, "night-1")
        load_csv_source(con, SOURCE, tmp_path, "night-1-retry")  # B30: the same files again change nothing
        assert _values(con) == [
            ("headcount", "2024-04-01", 118.0),
            ("headcount", "2024-05-01", 120.0),
            ("leavers", "2024-05-01", 3.0),
        ]
        # May is restated upstream: headcount corrected, leavers withdrawn
        (drop / "dept_2024-05.csv").write_text("date,metric,value\n2024-05-01,headcount,121\n")
        result = load_csv_source(con, SOURCE, tmp_path, "night-2")
        assert _values(con) == [("headcount", "2024-04-01", 118.0), ("headcount", "2024-05-01", 121.0)]
        assert {f.file: f.status for f in result.files} == {
            "drop/dept_2024-04.csv": "unchanged",
            "drop/dept_2024-05.csv": "replaced",
        }
        history = con.execute(
            "select load_id, status from raw.file_loads where source_file = 'drop/dept_2024-05.csv' "
            "order by loaded_at, rowid"
        ).fetchall()
        assert history == [("night-1", "loaded"), ("night-1-retry", "unchanged"), ("night-2", "replaced")]
        hashes = con.execute(
            "select count(distinct file_hash) from raw.file_loads where source_file = 'drop/dept_2024-05.csv'"
        ).fetchall()
        assert hashes == [(2,)]  # both revisions of the file stay identifiable in the load history
    finally:
        con.close()
