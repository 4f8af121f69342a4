"""Day two: the second report says what changed since the first.

Night one is the demo's published snapshot. Night two is that snapshot as the next run publishes it after a catalog
change: KPI-OTP-DEP lost its link (orphaned, so OBJ-DEPART-ON-TIME is unmeasured), KPI-AIR-TIME got one
(connected again), December's cancellation target was relaxed (OBJ-COMPLETE-FLIGHTS green), November's flights were
restated by the source, and a new metric arrives unmapped. The real report code builds both nights into one folder.
"""

from __future__ import annotations

import pytest
from report_testkit import demo_project, edit_snapshot, parse, query, read_json, snapshot_copy

from kpi_alignment.report.build import build_report

pytestmark = pytest.mark.slow

NIGHT_TWO = "2014-01-10"


def _night_two(paths) -> None:
    edit_snapshot(
        paths,
        "update marts.kpi_alignment set status = 'orphaned', cause_code = 'no_link', is_live = false, "
        "cause_text = 'KPI-OTP-DEP (On-time departure rate) has no link to any objective.', transition = "
        "'newly_orphaned', previous_status = 'connected' where kpi_id = 'KPI-OTP-DEP'",
        "update marts.kpi_alignment set status = 'connected', cause_code = 'connected', is_live = true, "
        "cause_text = 'connected', transition = 'reconnected', previous_status = 'orphaned' "
        "where kpi_id = 'KPI-AIR-TIME'",
        "update marts.objective_alignment set status = 'unmeasured', cause_code = 'no_live_kpi' "
        "where objective_id = 'OBJ-DEPART-ON-TIME'",
        "update marts.fct_objective_scores set score = 97.0, rag_status = 'green' "
        "where objective_id = 'OBJ-COMPLETE-FLIGHTS' and grain = 'month' and period_start = date '2013-12-01'",
        "update marts.fct_kpi_values set actual_value = actual_value + 120 "
        "where kpi_id = 'KPI-FLIGHTS' and grain = 'month' and dimension = '*' and period_start = date '2013-11-01'",
        "insert into marts.unmapped_metrics (metric_name, source_name, first_row_date, last_row_date, n_rows, "
        "n_values, note, evaluation_date) values ('flights_scheduled_v2', 'flights', date '2014-01-01', "
        "date '2014-01-09', 9, 9, 'renamed?', date '2014-01-10')",
        "update marts.fct_evaluation_runs set built_at = built_at + interval 1 day",
    )


@pytest.fixture(scope="module")
def nights(demo_run, tmp_path_factory):
    paths = snapshot_copy(demo_run, tmp_path_factory.mktemp("day-two"))
    project = demo_project(demo_run)
    first = build_report(project, paths, run_id="night-one", problems=[])
    november = query(
        paths,
        "select actual_value from marts.fct_kpi_values where kpi_id = 'KPI-FLIGHTS' and grain = 'month' "
        "and dimension = '*' and period_start = date '2013-11-01'",
    )[0][0]
    _night_two(paths)
    second = build_report(project, paths, run_id="night-two", problems=[])
    return paths, first, second, november


def test_night_one_is_the_first_report(nights) -> None:
    _, first, _, _ = nights
    assert first.latest_updated
    assert read_json(first.report.json)["changes"]["first_report"] is True


def test_night_two_lists_exactly_what_changed(nights) -> None:
    _, first, second, november = nights
    changes = read_json(second.report.json)["changes"]
    assert changes["basis"] == "previous_report"
    assert changes["previous"]["run_id"] == "night-one" and changes["previous"]["file"] == first.report.json.name
    assert {(c["kpi_id"], c["change"], c["from_status"], c["to_status"]) for c in changes["kpi_status_changes"]} == {
        ("KPI-OTP-DEP", "newly_orphaned", "connected", "orphaned"),
        ("KPI-AIR-TIME", "reconnected", "orphaned", "connected"),
    }
    assert [(c["objective_id"], c["from_status"], c["to_status"]) for c in changes["objective_status_changes"]] == [
        ("OBJ-DEPART-ON-TIME", "measured", "unmeasured")
    ]
    (rag,) = changes["objective_rag_changes"]
    assert (rag["objective_id"], rag["to_rag"], rag["to_score"]) == ("OBJ-COMPLETE-FLIGHTS", "green", 97.0)
    assert rag["from_rag"] != "green"
    (restated,) = changes["restated_values"]
    assert (restated["kpi_id"], restated["period_start"]) == ("KPI-FLIGHTS", "2013-11-01")
    assert (restated["previous_value"], restated["value"]) == (november, november + 120)
    assert changes["unmapped_added"] == ["flights_scheduled_v2"]
    assert changes["kpis_added"] == changes["kpis_removed"] == changes["unmapped_gone"] == []
    assert changes["n_changes"] == 6


def test_night_two_becomes_latest_and_shows_the_changes_first(nights) -> None:
    paths, _, second, _ = nights
    assert second.latest_updated
    assert (paths.reports_dir / "latest.json").read_bytes() == second.report.json.read_bytes()
    page = parse(paths.reports_dir / "latest.html")
    text = page.text
    assert "6 changes since the previous report (data as of 10 Jan 2014)" in text
    changes_at = text.index("What changed")
    assert text.index("newly orphaned", changes_at) < text.index("Strategy map")
    assert text.index("reconnected", changes_at) < text.index("Strategy map")
    assert "Restated values" in text and "flights_scheduled_v2" in text
    assert "newly orphaned" in second.report.markdown_text and "6 changes since the previous report (2014-01-10)" in (
        second.report.markdown_text
    )


def test_rebuilding_night_two_still_compares_with_night_one(nights, demo_run) -> None:
    paths, _, _, _ = nights
    again = build_report(demo_project(demo_run), paths, run_id="manual-rebuild", problems=[])
    changes = read_json(again.report.json)["changes"]
    assert changes["previous"]["run_id"] == "night-one" and changes["n_changes"] == 6


def test_without_an_earlier_report_the_history_marts_are_the_baseline(demo_run, tmp_path) -> None:
    paths = snapshot_copy(demo_run, tmp_path / "out")
    # the run of the day before judged KPI-OTP-DEP orphaned and OBJ-DEPART-ON-TIME unmeasured
    edit_snapshot(
        paths,
        "insert into marts.fct_alignment_history by name (select * replace (date '2014-01-09' as evaluation_date)"
        " from marts.fct_alignment_history where evaluation_date = date '2014-01-10')",
        "update marts.fct_alignment_history set status = 'orphaned' "
        "where kpi_id = 'KPI-OTP-DEP' and evaluation_date = date '2014-01-09'",
        "insert into marts.fct_objective_alignment_history by name (select * replace (date '2014-01-09' as "
        "evaluation_date) from marts.fct_objective_alignment_history where evaluation_date = date '2014-01-10')",
        "update marts.fct_objective_alignment_history set status = 'unmeasured' "
        "where objective_id = 'OBJ-DEPART-ON-TIME' and evaluation_date = date '2014-01-09'",
    )
    outcome = build_report(demo_project(demo_run), paths, run_id="manual-history", problems=[])
    changes = read_json(outcome.report.json)["changes"]
    assert changes["basis"] == "history" and changes["previous"]["evaluation_date"] == "2014-01-09"
    assert [(c["kpi_id"], c["change"]) for c in changes["kpi_status_changes"]] == [("KPI-OTP-DEP", "reconnected")]
    assert [(c["objective_id"], c["to_status"]) for c in changes["objective_status_changes"]] == [
        ("OBJ-DEPART-ON-TIME", "measured")
    ]
    assert changes["restated_values"] == [] and changes["objective_rag_changes"] == []
