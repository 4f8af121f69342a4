"""Bad input to the dbt layer fails with a message naming what is wrong, and judges nothing it cannot judge."""

from __future__ import annotations

from pathlib import Path

from dbt_fixtures import create_warehouse, run_dbt


def test_an_evaluation_date_var_that_is_not_a_date_is_rejected_by_name(tmp_path: Path) -> None:
    create_warehouse(tmp_path / "warehouse.duckdb", None).close()
    result = run_dbt(
        ["compile", "--select", "stg_catalog__run_context"],
        database=tmp_path / "warehouse.duckdb",
        target_path=tmp_path / "target",
        dbt_vars={"evaluation_date": "30/06/2024"},
    )
    assert result.returncode != 0
    assert "var evaluation_date must be a date YYYY-MM-DD, got '30/06/2024'" in result.output


def test_without_an_evaluation_date_no_status_is_judged(tmp_path: Path) -> None:
    """An empty catalog.run_context (and no var) fails the run-context test and skips every model after it."""
    create_warehouse(tmp_path / "warehouse.duckdb", None).close()
    result = run_dbt(["build"], database=tmp_path / "warehouse.duckdb", target_path=tmp_path / "target")
    assert result.returncode == 1
    assert result.status_of("not_null_stg_catalog__run_context_evaluation_date") == "fail"
    assert result.status_of("model.kpi_alignment.kpi_alignment") == "skipped"
    assert result.status_of("model.kpi_alignment.objective_alignment") == "skipped"
