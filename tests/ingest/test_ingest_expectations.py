"""GX suites as code and the batch runner, on batches the CSV loader really wrote."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from ingest_testkit import csv_source, load

from expectations.runner import batch_frame, validate_loaded_batch
from expectations.suites import key_columns, metric_batch_suite, table_batch_suite


def kinds(spec) -> list[tuple[str, str | None]]:
    out = []
    for e in spec.expectations:
        config = e.configuration
        column = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list") or []) or None
        out.append((config.type, column))
    return out


def test_metric_suite_pairs_in_set_with_not_null():
    spec = metric_batch_suite("m", known_metrics=["b", "a"])
    assert kinds(spec) == [
        ("expect_column_values_to_not_be_null", "metric_name"),
        ("expect_column_values_to_not_be_null", "period_date"),
        ("expect_column_values_to_not_be_null", "dimension"),
        ("expect_column_values_to_be_in_type_list", "value"),
        ("expect_column_values_to_be_in_type_list", "target_value"),
        ("expect_compound_columns_to_be_unique", "metric_name,period_date,dimension"),
        ("expect_column_values_to_be_in_set", "metric_name"),  # metric_name is already checked not null
    ]


def test_table_suite_infers_keys_and_pairs_every_in_set():
    source = csv_source(
        path="x", layout="table",
        columns={"Objective Code": "varchar", "kpi_id": "varchar", "status": "varchar", "value": "double"},
    )  # fmt: skip
    assert key_columns(source) == ["Objective Code", "kpi_id"]
    spec = table_batch_suite("t", source, in_sets={"status": ["ok"], "kpi_id": ["K1"]})
    assert kinds(spec)[1:] == [
        ("expect_column_values_to_not_be_null", "objective_code"),
        ("expect_column_values_to_not_be_null", "kpi_id"),
        ("expect_column_values_to_be_in_set", "status"),
        ("expect_column_values_to_not_be_null", "status"),  # B28: paired
        ("expect_column_values_to_be_in_set", "kpi_id"),
    ]
    with pytest.raises(ValueError, match="'nope' is not a declared column"):
        table_batch_suite("t", source, in_sets={"nope": ["x"]})


def test_declared_keys_are_also_unique():
    source = csv_source(path="x", layout="table", columns={"a": "varchar", "b": "varchar"}, key_columns=["a", "b"])
    assert ("expect_compound_columns_to_be_unique", "a,b") in kinds(table_batch_suite("t", source))


LONG = dict(
    path="m.csv", layout="long", columns={"metric": "varchar", "day": "date", "value": "double"},
    date={"column": "day"}, metric_column="metric", value_column="value",
)  # fmt: skip


def test_conflicting_values_in_one_batch_fail(project: Path, con: duckdb.DuckDBPyConnection):
    (project / "m.csv").write_text("metric,day,value\nm1,2024-01-01,1\nm1,2024-01-01,2\nm2,2024-01-01,\n")
    source = csv_source(**LONG)
    assert load(con, source, project).files[0].rows_loaded == 3  # not exact duplicates: both kept for the check
    outcome = validate_loaded_batch(con, source, "L1")
    assert outcome.status == "failed"
    assert [(f.expectation, f.column) for f in outcome.failures] == [
        ("expect_compound_columns_to_be_unique", "metric_name,period_date,dimension")
    ]


def test_large_batches_are_sampled_reproducibly(project: Path, con: duckdb.DuckDBPyConnection):
    lines = ["metric,day,value"] + [f"m{i},2024-01-01,{i}" for i in range(5000)]
    (project / "m.csv").write_text("\n".join(lines) + "\n")
    source = csv_source(**LONG)
    load(con, source, project)
    first, total = batch_frame(con, source, "L1", max_rows=1000)
    again, _ = batch_frame(con, source, "L1", max_rows=1000)
    assert (len(first), total) == (1000, 5000)
    assert sorted(first["metric_name"]) == sorted(again["metric_name"])
    outcome = validate_loaded_batch(con, source, "L1", max_rows=1000)
    assert (outcome.status, outcome.rows_validated, outcome.rows_in_batch, outcome.sampled) == (
        "success", 1000, 5000, True,
    )  # fmt: skip
    assert "sample of 1000 of 5000 rows" in outcome.summary


def test_a_load_without_rows_is_an_empty_success(project: Path, con: duckdb.DuckDBPyConnection):
    (project / "m.csv").write_text("metric,day,value\nm1,2024-01-01,1\n")
    source = csv_source(**LONG)
    load(con, source, project, "L1")
    load(con, source, project, "L2")  # unchanged: writes no rows
    outcome = validate_loaded_batch(con, source, "L2")
    assert (outcome.status, outcome.rows_in_batch) == ("success", 0)


def test_table_batch_of_a_real_load_passes(project: Path, con: duckdb.DuckDBPyConnection):
    (project / "t.csv").write_text("kpi_id,value\nK1,1\nK2,2\n")
    source = csv_source(path="t.csv", layout="table", table="kpis", columns={"kpi_id": "varchar", "value": "double"})
    load(con, source, project)
    outcome = validate_loaded_batch(con, source, "L1", in_sets={"kpi_id": ["K1", "K2"]})
    assert outcome.status == "success", outcome.summary
    assert outcome.evaluated == 3
