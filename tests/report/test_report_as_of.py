"""Reproducible: ``kpi-align report --as-of DATE`` rebuilds the report of a past evaluation date from the history
marts, without touching ``latest.*``; a date no run evaluated is refused with the dates that can be rebuilt."""

from __future__ import annotations

import pytest
from pipeline_testkit import run_cli
from report_testkit import edit_snapshot, parse, read_json, snapshot_copy

pytestmark = pytest.mark.slow

PAST = "2013-07-10"


@pytest.fixture
def history(demo_run, tmp_path):
    """A snapshot whose history also holds an evaluation of 2013-07-10 (a night when KPI-AIR-TIME was connected
    and OBJ-CUSTOMER-LOYALTY not yet pursued), judged with catalog revision 'rev-july'."""
    paths = snapshot_copy(demo_run, tmp_path / "out", reports=True)
    edit_snapshot(
        paths,
        f"insert into marts.fct_alignment_history by name (select * replace (date '{PAST}' as evaluation_date) "
        "from marts.fct_alignment_history where evaluation_date = date '2014-01-10')",
        f"update marts.fct_alignment_history set status = 'connected', cause_text = 'connected in July' "
        f"where kpi_id = 'KPI-AIR-TIME' and evaluation_date = date '{PAST}'",
        "insert into marts.fct_objective_alignment_history by name (select * replace "
        f"(date '{PAST}' as evaluation_date) from marts.fct_objective_alignment_history "
        "where evaluation_date = date '2014-01-10')",
        f"update marts.fct_objective_alignment_history set status = 'inactive' "
        f"where objective_id = 'OBJ-CUSTOMER-LOYALTY' and evaluation_date = date '{PAST}'",
        f"insert into marts.fct_evaluation_runs by name (select * replace (date '{PAST}' as evaluation_date, "
        "'rev-july' as catalog_revision, false as is_this_build) from marts.fct_evaluation_runs)",
    )
    return paths


def test_as_of_rebuilds_a_past_evaluation_from_history(demo_run, history) -> None:
    latest = (history.reports_dir / "latest.html").read_bytes()
    proc = run_cli(
        "report",
        "--as-of",
        PAST,
        "--project",
        str(demo_run.project),
        env={"KPI_ALIGN_OUTPUT_DIR": str(history.output_dir)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (written,) = history.reports_dir.glob(f"alignment-{PAST}-asof-*.json")
    report = read_json(written)
    assert report["kind"] == "as_of" and report["evaluation_date"] == PAST
    assert report["catalog_revision"] == "rev-july"
    statuses = {k["kpi_id"]: k["status"] for k in report["kpis"]}
    assert statuses["KPI-AIR-TIME"] == "connected"
    assert "KPI-AIR-TIME" not in {f["kpi_id"] for f in report["kpi_findings"]}
    assert "OBJ-CUSTOMER-LOYALTY" not in {o["objective_id"] for o in report["objective_findings"]}
    # the strategic objective not pursued then does not count: 1 of 1 measured
    assert (report["summary"]["strategic_objectives_measured"], report["summary"]["strategic_objectives_active"]) == (
        1,
        1,
    )
    # values stop at the periods begun by then
    for k in report["kpis"]:
        assert k["series"] and max(p["period_start"] for p in k["series"]) == "2013-07-01"
    page = parse(written.with_suffix(".html"))
    assert "as-of" in page.ids("div") and "Rebuilt for 10 Jul 2013" in page.text
    assert f"kpi-align report --as-of {PAST} --project {demo_run.project}" in page.text
    assert (history.reports_dir / "latest.html").read_bytes() == latest


def test_a_date_never_evaluated_is_refused_with_the_dates_that_exist(demo_run, history) -> None:
    before = sorted(p.name for p in history.reports_dir.iterdir())
    proc = run_cli(
        "report",
        "--as-of",
        "2013-06-01",
        "--project",
        str(demo_run.project),
        env={"KPI_ALIGN_OUTPUT_DIR": str(history.output_dir)},
    )
    assert proc.returncode == 1
    assert "2013-06-01 was never evaluated" in proc.stderr
    assert f"{PAST}, 2014-01-10" in proc.stderr
    assert sorted(p.name for p in history.reports_dir.iterdir()) == before
