"""B32 (and the GX half of B28): a check that could not run is *errored*, never *failed*; in-set pairs with not-null.

The batches are real: the B28 case files loaded by the CSV loader into a DuckDB file, then pulled back by the
runner. The errored path is GX's own: an expectation on a column the batch lacks makes GX's metric computation
raise (reported as ``success=False`` with ``exception_info``, exactly the shape B32 describes).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import great_expectations.expectations as gxe
import pytest
from cases_testkit import deliver, load_one, rows

from expectations.runner import batch_frame, validate_dataframe, validate_loaded_batch
from expectations.suites import SuiteSpec, table_batch_suite
from kpi_alignment.sources import CsvSource

pytestmark = pytest.mark.realdata

MAP = {"kpi_id": "varchar", "objective_id": "varchar"}


def _load_b28(cases: Path, project: Path, con: duckdb.DuckDBPyConnection) -> tuple[CsvSource, list[str]]:
    deliver(cases / "B28_kpi_objective_map.csv", project)
    deliver(cases / "B28_objectives.csv", project)
    load_one(
        con, project, name="objectives", path="B28_objectives.csv", layout="table",
        columns={"objective_id": "varchar", "name": "varchar"},
    )  # fmt: skip
    result = load_one(con, project, name="kpi_map", path="B28_kpi_objective_map.csv", layout="table", columns=MAP)
    assert result.rows_loaded == 5
    known = [o for (o,) in rows(con, "SELECT objective_id FROM raw.objectives WHERE objective_id IS NOT NULL")]
    source = CsvSource.model_validate({"name": "kpi_map", "path": "x", "layout": "table", "columns": MAP})
    return source, known


def test_b28_in_set_alone_passes_null_ids_which_is_why_it_is_paired(
    cases: Path, project: Path, con: duckdb.DuckDBPyConnection
):
    source, known = _load_b28(cases, project, con)
    frame, _ = batch_frame(con, source, "L1")
    in_set_only = SuiteSpec("in-set-only", [gxe.ExpectColumnValuesToBeInSet(column="objective_id", value_set=known)])
    paired = SuiteSpec("paired")
    paired.add_in_set("objective_id", known)
    lone = validate_dataframe(frame[frame["kpi_id"].isin(["K1", "K4"])], in_set_only)
    assert lone.status == "success"  # GX ignores the NULL of K4 (missing_count), the B28 blind spot
    both = validate_dataframe(frame[frame["kpi_id"].isin(["K1", "K4"])], paired)
    assert both.status == "failed"
    assert [(f.expectation, f.column) for f in both.failures] == [
        ("expect_column_values_to_not_be_null", "objective_id")
    ]


def test_b32_bad_data_is_failed(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    source, known = _load_b28(cases, project, con)
    outcome = validate_loaded_batch(con, source, "L1", in_sets={"objective_id": known})
    assert outcome.status == "failed"
    assert outcome.errors == []
    failed = {(f.expectation, f.column): f.detail for f in outcome.failures}
    assert set(failed) == {
        ("expect_column_values_to_not_be_null", "objective_id"),  # K4
        ("expect_column_values_to_be_in_set", "objective_id"),  # 'OBJ-2 ', 'obj-2', 'OBJ-9'
    }
    assert failed[("expect_column_values_to_be_in_set", "objective_id")].startswith("3 unexpected")
    assert outcome.rows_validated == outcome.rows_in_batch == 5


def test_b32_a_check_that_cannot_run_is_errored_not_failed(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    source, known = _load_b28(cases, project, con)
    frame, total = batch_frame(con, source, "L1")
    # the batch as an older raw table would hold it: without the objective_id column
    outcome = validate_dataframe(
        frame.drop(columns=["objective_id"]),
        table_batch_suite("kpi_map-batch", source, {"objective_id": known}),
        rows_in_batch=total,
    )
    assert outcome.status == "errored"
    assert {e.column for e in outcome.errors} == {"objective_id"}
    assert all("objective_id" in e.detail for e in outcome.errors)
    assert outcome.summary.startswith("kpi_map-batch: 2 expectations could not be evaluated")
    # the checks that could run still report what they found
    assert [f.expectation for f in outcome.failures] == ["expect_table_columns_to_match_ordered_list"]


def test_b32_an_unreadable_batch_is_errored(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    source, known = _load_b28(cases, project, con)
    con.execute("DROP TABLE raw.kpi_map")
    outcome = validate_loaded_batch(con, source, "L1", in_sets={"objective_id": known})
    assert outcome.status == "errored"
    assert "cannot read the batch" in outcome.errors[0].detail
