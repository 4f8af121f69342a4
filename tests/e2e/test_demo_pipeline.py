"""The walking skeleton end to end: the bundled airline example through the real Dagster job on real flights."""

from __future__ import annotations

import json

import duckdb
import pytest

pytestmark = pytest.mark.slow

MARTS = (
    "dim_objectives",
    "dim_kpis",
    "bridge_kpi_objectives",
    "fct_kpi_values",
    "kpi_alignment",
    "objective_alignment",
)


def test_run_succeeds_and_prints_where_outputs_are(demo_run) -> None:
    out = demo_run.process.stdout
    assert demo_run.process.returncode == 0, demo_run.process.stdout + demo_run.process.stderr
    assert str(demo_run.served) in out
    assert str(demo_run.output / "reports" / "latest.html") in out


def test_every_flight_is_ingested_with_provenance(demo_run) -> None:
    con = duckdb.connect(str(demo_run.output / "warehouse.duckdb"), read_only=True)
    try:
        rows, files, hashes = con.execute(
            "select count(*), count(distinct source_file), count(distinct file_hash) from raw.flights"
        ).fetchall()[0]
        rejects = con.execute("select count(*) from raw.rejects").fetchall()[0][0]
    finally:
        con.close()
    assert (rows, files, hashes, rejects) == (336_776, 12, 12, 0)


@pytest.mark.parametrize("mart", MARTS)
def test_public_marts_are_published_and_not_empty(demo_run, mart: str) -> None:
    assert demo_run.query(f"select count(*) from marts.{mart}")[0][0] > 0


def test_deliberate_findings_and_nothing_else(demo_run) -> None:
    statuses = dict(demo_run.query("select kpi_id, status from marts.kpi_alignment"))
    assert {k for k, s in statuses.items() if s == "orphaned"} == {"KPI-AIR-TIME", "KPI-DIVERT-RATE"}
    assert {k for k, s in statuses.items() if s == "disconnected"} == {"KPI-STAGE-LENGTH"}
    assert {k for k, s in statuses.items() if s == "connected"} == {
        "KPI-OTP-DEP",
        "KPI-OTP-ARR",
        "KPI-CANCEL-RATE",
        "KPI-ARR-DELAY",
        "KPI-FLIGHTS",
    }
    objectives = dict(
        demo_run.query("select objective_id, status from marts.objective_alignment where level = 'strategic'")
    )
    assert objectives["OBJ-CUSTOMER-LOYALTY"] == "unmeasured"
    assert objectives["OBJ-RELIABLE"] == "measured"
    cause = demo_run.query("select cause_text from marts.kpi_alignment where kpi_id = 'KPI-STAGE-LENGTH'")[0][0]
    assert "OBJ-LONG-HAUL" in cause


def test_report_names_the_findings(demo_run) -> None:
    reports = demo_run.output / "reports"
    html = (reports / "latest.html").read_text(encoding="utf-8")
    data = json.loads((reports / "latest.json").read_text(encoding="utf-8"))
    found = {(f["kpi_id"], f["status"]) for f in data["kpi_findings"]}
    assert found == {
        ("KPI-AIR-TIME", "orphaned"),
        ("KPI-DIVERT-RATE", "orphaned"),
        ("KPI-STAGE-LENGTH", "disconnected"),
    }
    assert [o["objective_id"] for o in data["objective_findings"] if o["level"] == "strategic"] == [
        "OBJ-CUSTOMER-LOYALTY"
    ]
    for name in ("KPI-AIR-TIME", "KPI-DIVERT-RATE", "KPI-STAGE-LENGTH", "OBJ-CUSTOMER-LOYALTY"):
        assert name in html


def test_monthly_actuals_come_from_the_flights(demo_run) -> None:
    # January 2013, all carriers: scheduled flights and cancellations counted straight from the export.
    scheduled, cancelled = duckdb.sql(
        f"select count(*), count(*) filter (where dep_time is null) "
        f"from read_csv('{demo_run.project}/data/flights/flights_2013_01.csv', nullstr='NA')"
    ).fetchall()[0]
    (rate,) = demo_run.query(
        "select actual_value from marts.fct_kpi_values where kpi_id = 'KPI-CANCEL-RATE' and dimension = '*' "
        "and grain = 'month' and period_start = date '2013-01-01'"
    )[0]
    assert rate == pytest.approx(cancelled / scheduled, abs=1e-12)


def test_the_run_is_recorded_in_the_dagster_instance(demo_run) -> None:
    import dagster as dg

    home = demo_run.output / "dagster_home"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
    assert [r.job_name for r in runs] == ["nightly_alignment"]
    assert runs[0].status == dg.DagsterRunStatus.SUCCESS
