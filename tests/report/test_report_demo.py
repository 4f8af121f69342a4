"""The demo's nightly report: opened in real headless Chromium at desktop and phone width, and every section filled
from the published marts of that run (the numbers are re-read from the marts here, never written down)."""

from __future__ import annotations

import math

import pytest
from browser import is_blank, render_html_file
from report_testkit import parse, read_json

pytestmark = pytest.mark.slow

SECTIONS = ["headline", "changes", "strategy-map", "objectives", "charts", "findings", "unmapped", "freshness"]


@pytest.fixture(scope="module")
def report(demo_run) -> dict:
    assert demo_run.process.returncode == 0, demo_run.process.stdout[-3000:] + demo_run.process.stderr[-3000:]
    return read_json(demo_run.output / "reports" / "latest.json")


def test_report_opens_in_chromium_without_errors_or_requests_on_desktop_and_phone(demo_run, tmp_path) -> None:
    latest = demo_run.output / "reports" / "latest.html"
    page = render_html_file(latest, tmp_path, full_page=True)
    assert page.console_errors == []
    assert page.requests == []
    assert set(page.screenshots) == {"desktop", "phone"}
    for name, shot in page.screenshots.items():
        assert not is_blank(shot), f"{name} screenshot is blank"
    # wide tables scroll inside their own box: the page itself never scrolls sideways on a phone
    assert page.scroll_width["phone"] <= 390
    assert page.text_length > 3000


def test_the_report_is_one_self_contained_file(demo_run) -> None:
    html = (demo_run.output / "reports" / "latest.html").read_text(encoding="utf-8")
    page = parse(demo_run.output / "reports" / "latest.html")
    assert page.count("script") == 0 and page.count("link") == 0 and page.count("img") == 0
    assert "<!DOCTYPE svg" not in html and "<?xml" not in html
    assert "@media print" in html and 'name="viewport"' in html
    # every id is unique, also across the inline charts (clip paths, markers)
    ids = page.ids()
    assert len(ids) == len(set(ids))


def test_sections_come_in_the_issue_order(demo_run) -> None:
    page = parse(demo_run.output / "reports" / "latest.html")
    assert [i for i in page.ids("section")] == SECTIONS
    assert page.count("footer") == 1


def test_headline_figures_are_those_of_the_marts(demo_run, report) -> None:
    strategic = demo_run.query(
        "select count(*) filter (where status = 'measured'), count(*) from marts.objective_alignment "
        "where level = 'strategic' and status <> 'inactive'"
    )[0]
    kpis = demo_run.query(
        "select count(*) filter (where status = 'connected'), count(*) from marts.kpi_alignment "
        "where status <> 'retired'"
    )[0]
    s = report["summary"]
    assert (s["strategic_objectives_measured"], s["strategic_objectives_active"]) == strategic
    assert (s["kpis_connected"], s["kpis_active"]) == kpis
    assert s["share_kpis_connected"] == pytest.approx(kpis[0] / kpis[1], abs=1e-4)
    # on/off track: the RAG of each pursued objective's latest month
    rags = dict(
        demo_run.query(
            """
            select s.objective_id, s.rag_status from marts.fct_objective_scores s
            join marts.objective_alignment a using (objective_id)
            where s.grain = 'month' and a.status <> 'inactive'
            qualify row_number() over (partition by s.objective_id order by s.period_start desc) = 1
            """
        )
    )
    pursued = demo_run.query("select count(*) from marts.objective_alignment where status <> 'inactive'")[0][0]
    expected = {rag: sum(r == rag for r in rags.values()) for rag in ("green", "amber", "red")}
    expected["no_score"] = pursued - sum(expected.values())
    assert s["objectives_by_rag"] == expected
    text = parse(demo_run.output / "reports" / "latest.html").text
    assert f"{expected['red']} off track" in text and f"{expected['amber']} at risk" in text


def test_first_report_says_so(report, demo_run) -> None:
    assert report["changes"]["first_report"] is True
    assert "First report" in parse(demo_run.output / "reports" / "latest.html").text


def test_strategy_map_shows_every_objective_with_its_latest_score(demo_run, report) -> None:
    page = parse(demo_run.output / "reports" / "latest.html")
    objectives = [r[0] for r in demo_run.query("select objective_id from marts.dim_objectives")]
    assert {f"map-{o}" for o in objectives} <= set(page.ids("div"))
    latest = demo_run.query(
        """
        select objective_id, score, n_inputs_scored, n_inputs_total from marts.fct_objective_scores
        where grain = 'month'
        qualify row_number() over (partition by objective_id order by period_start desc) = 1
        """
    )
    by_id = {o["objective_id"]: o for o in report["objectives"]}
    for objective_id, score, scored, total in latest:
        got = by_id[objective_id]["score"]
        assert got["score"] == pytest.approx(score)
        assert (got["n_inputs_scored"], got["n_inputs_total"]) == (scored, total)
        assert f"coverage: {scored} of {total} KPIs scored" in page.text or by_id[objective_id]["status"] == "inactive"
        assert str(math.floor(score + 1e-9)) in page.text


def test_every_kpi_with_data_has_a_sparkline_and_a_chart_of_its_own_series(demo_run, report) -> None:
    page = parse(demo_run.output / "reports" / "latest.html")
    with_data = [r[0] for r in demo_run.query("select distinct kpi_id from marts.fct_kpi_values order by 1")]
    assert with_data
    for kpi_id in with_data:
        assert f"kpi-{kpi_id}" in page.ids("figure")
    assert page.count("svg", **{"class": "chart"}) == len(with_data)
    links = demo_run.query("select count(*) from marts.bridge_kpi_objectives where objective_id is not null")[0][0]
    assert page.count("svg", **{"class": "spark"}) >= links
    # the chart's series is the KPI's own grain, all dimensions, straight from fct_kpi_values
    series = {k["kpi_id"]: k["series"] for k in report["kpis"]}
    rows = demo_run.query(
        "select period_start, actual_value, target_value from marts.fct_kpi_values "
        "where kpi_id = 'KPI-CANCEL-RATE' and dimension = '*' and is_native_grain order by period_start"
    )
    assert [(p["period_start"], p["actual"], p["target"]) for p in series["KPI-CANCEL-RATE"]] == [
        (d.isoformat(), a, t) for d, a, t in rows
    ]


def test_findings_name_owner_cause_and_since(demo_run, report) -> None:
    rows = demo_run.query(
        "select kpi_id, owner, cause_text, since from marts.kpi_alignment "
        "where status not in ('connected', 'retired') order by kpi_id"
    )
    assert [(f["kpi_id"], f["owner"], f["cause_text"], f["since"]) for f in report["kpi_findings"]] == [
        (k, o, c, s.isoformat()) for k, o, c, s in rows
    ]
    text = parse(demo_run.output / "reports" / "latest.html").text
    for _, owner, cause, _ in rows:
        assert owner in text and cause in text


def test_freshness_per_source_and_footer(demo_run, report) -> None:
    (fresh,) = report["source_freshness"]
    assert fresh["source_name"] == "flights"
    assert fresh["rows_held"] == 336_776 and fresh["last_load_files"] == 12 and fresh["last_load_files_failed"] == 0
    text = parse(demo_run.output / "reports" / "latest.html").text
    assert "every month" in text
    import dagster as dg

    with dg.DagsterInstance.from_config(str(demo_run.output / "dagster_home")) as instance:
        (run,) = instance.get_runs()
    assert report["run_id"] == run.run_id and run.run_id in text
    assert f"kpi-align report --as-of {report['evaluation_date']} --project {demo_run.project}" in text
    assert report["catalog_revision"] in text
