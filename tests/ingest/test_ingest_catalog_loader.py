"""The catalog loader: the YAML catalog of a real project directory, fully replaced in ``catalog.*``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import yaml
from ingest_testkit import rows

from ingest.catalog_loader import load_catalog
from kpi_alignment.project import load_project

OBJECTIVES = {
    "objectives": [
        {"id": "OBJ-A", "name": "Be reliable", "level": "strategic", "owner": "coo@example.com",
         "time_frame": {"start": "2024-01-01", "end": "2026-12-31"}},
        {"id": "OBJ-B", "name": "Depart on time", "level": "operational", "parent": "OBJ-A",
         "owner": "ops@example.com", "time_frame": {"start": "2024-01-01"}, "description": "Push back on time"},
    ]
}  # fmt: skip
KPIS = {
    "kpis": [
        {"id": "KPI-OTP", "name": "On-time departures", "direction": "higher_is_better", "aggregation": "ratio",
         "grain": "month", "owner": "ops@example.com", "unit": "%",
         "metrics": {"numerator": "flights_on_time", "denominator": ["flights_scheduled"]}},
        {"id": "KPI-REV", "name": "Revenue", "direction": "higher_is_better", "aggregation": "sum", "grain": "month",
         "owner": "cfo@example.com", "metrics": {"value": ["revenue", "net_revenue"]}, "parent_kpi": "KPI-OTP",
         "expected_within_days": 5, "rag": {"green_at": 90, "amber_at": 70}},
    ],
    "links": [
        {"kpi": "KPI-OTP", "objective": "OBJ-B", "weight": 2},
        {"kpi": "KPI-REV", "objective": "OBJ-A", "informational": True, "valid_from": "2024-01-01"},
    ],
    "targets": [
        {"kpi": "KPI-OTP", "period_start": "2024-01-01", "period_end": "2024-12-31", "type": "at_least", "value": 0.8},
    ],
}  # fmt: skip


def write_project(root: Path, kpis: dict) -> Path:
    (root / "catalog").mkdir(parents=True, exist_ok=True)
    (root / "kpi-align.yml").write_text(yaml.safe_dump({"name": "demo", "evaluation_date": "2024-06-30"}))
    (root / "catalog" / "objectives.yml").write_text(yaml.safe_dump(OBJECTIVES))
    (root / "catalog" / "kpis.yml").write_text(yaml.safe_dump(kpis))
    return root


def test_catalog_is_written_with_origins_and_run_context(project: Path, con: duckdb.DuckDBPyConnection):
    loaded_at = dt.datetime(2024, 7, 1, 6, 0)
    result = load_catalog(con, load_project(write_project(project, KPIS)), loaded_at=loaded_at)
    assert result.rows == {
        "objectives": 2, "kpis": 2, "kpi_metrics": 4, "kpi_links": 2, "targets": 1, "run_context": 1,
    }  # fmt: skip
    assert (result.get("kpis"), result.get("not_a_table")) == (2, 0)
    assert rows(con, "SELECT * FROM catalog.objectives ORDER BY objective_id") == [
        ("OBJ-A", "Be reliable", "", "strategic", None, "coo@example.com", dt.date(2024, 1, 1),
         dt.date(2026, 12, 31), "active", "catalog/objectives.yml"),
        ("OBJ-B", "Depart on time", "Push back on time", "operational", "OBJ-A", "ops@example.com",
         dt.date(2024, 1, 1), None, "active", "catalog/objectives.yml"),
    ]  # fmt: skip
    assert rows(con, "SELECT * FROM catalog.kpis ORDER BY kpi_id") == [
        ("KPI-OTP", "On-time departures", "", "%", "higher_is_better", "ratio", "month", "ops@example.com",
         "active", None, None, "catalog/kpis.yml", None, None),
        ("KPI-REV", "Revenue", "", "", "higher_is_better", "sum", "month", "cfo@example.com", "active", "KPI-OTP",
         5, "catalog/kpis.yml", 90.0, 70.0),
    ]  # fmt: skip
    assert rows(con, "SELECT * FROM catalog.kpi_metrics ORDER BY 1, 3, 2") == [
        ("KPI-OTP", "flights_scheduled", "denominator"),
        ("KPI-OTP", "flights_on_time", "numerator"),
        ("KPI-REV", "net_revenue", "value"),
        ("KPI-REV", "revenue", "value"),
    ]
    assert rows(con, "SELECT * FROM catalog.kpi_links ORDER BY 1") == [
        ("KPI-OTP", "OBJ-B", 2.0, False, None, None),
        ("KPI-REV", "OBJ-A", 1.0, True, dt.date(2024, 1, 1), None),
    ]
    assert rows(con, "SELECT * FROM catalog.targets") == [
        ("KPI-OTP", dt.date(2024, 1, 1), dt.date(2024, 12, 31), "at_least", 0.8, None, None, None)
    ]
    # not a git checkout: the revision says so; the evaluation date comes from kpi-align.yml
    assert rows(con, "SELECT * FROM catalog.run_context") == [(dt.date(2024, 6, 30), "unversioned", "demo", loaded_at)]


def test_every_load_replaces_the_whole_catalog(project: Path, con: duckdb.DuckDBPyConnection):
    load_catalog(con, load_project(write_project(project, KPIS)), dt.date(2024, 6, 1), "rev1")
    smaller = {"kpis": KPIS["kpis"][:1], "links": KPIS["links"][:1], "targets": []}
    load_catalog(con, load_project(write_project(project, smaller)), dt.date(2024, 7, 1), "rev2")
    assert rows(con, "SELECT kpi_id FROM catalog.kpis") == [("KPI-OTP",)]
    assert rows(con, "SELECT count(*) FROM catalog.kpi_links") == [(1,)]
    assert rows(con, "SELECT count(*) FROM catalog.targets") == [(0,)]
    assert rows(con, "SELECT evaluation_date, catalog_revision FROM catalog.run_context") == [
        (dt.date(2024, 7, 1), "rev2")
    ]


def test_a_failed_write_leaves_the_previous_catalog(project: Path, con: duckdb.DuckDBPyConnection):
    # a warehouse whose targets table refuses NULL values (e.g. created by an older version)
    con.execute("CREATE SCHEMA catalog")
    con.execute(
        "CREATE TABLE catalog.targets (kpi_id VARCHAR, period_start DATE, period_end DATE, target_type VARCHAR, "
        "target_value DOUBLE CHECK (target_value IS NOT NULL), lower_value DOUBLE, upper_value DOUBLE, "
        "baseline_value DOUBLE)"
    )
    load_catalog(con, load_project(write_project(project, KPIS)), dt.date(2024, 6, 1), "rev1")
    renamed = {**KPIS, "kpis": [{**KPIS["kpis"][0], "name": "Renamed"}, KPIS["kpis"][1]]}
    renamed["targets"] = [
        *KPIS["targets"],
        {"kpi": "KPI-OTP", "period_start": "2025-01-01", "period_end": "2025-12-31", "type": "range",
         "lower": 0.75, "upper": 0.9},
    ]  # fmt: skip
    with pytest.raises(duckdb.ConstraintException):
        load_catalog(con, load_project(write_project(project, renamed)), dt.date(2024, 7, 1), "rev2")
    assert rows(con, "SELECT name FROM catalog.kpis WHERE kpi_id = 'KPI-OTP'") == [("On-time departures",)]
    assert rows(con, "SELECT catalog_revision FROM catalog.run_context") == [("rev1",)]
