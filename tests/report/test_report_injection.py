"""No HTML injection: a KPI, an objective, an owner, a metric and a problem message written as
``<script>alert(1)</script> & "quotes"`` reach the reader as text — in the HTML (parsed as a browser parses it and
opened in Chromium), the failure notice and the Markdown summary. The real rendering code runs on a copy of the
demo's published snapshot whose names were changed."""

from __future__ import annotations

import pytest
from browser import is_blank, render_html_file
from report_testkit import demo_project, edit_snapshot, parse, snapshot_copy

from kpi_alignment.report.build import RunProblem, build_report

pytestmark = pytest.mark.slow

EVIL = '<script>alert(1)</script> & "quotes"'


@pytest.fixture(scope="module")
def outcome(demo_run, tmp_path_factory):
    paths = snapshot_copy(demo_run, tmp_path_factory.mktemp("injection"))
    edit_snapshot(
        paths,
        ("update marts.dim_kpis set kpi_name = ? where kpi_id = 'KPI-OTP-DEP'", [EVIL]),
        ("update marts.kpi_alignment set kpi_name = ? where kpi_id = 'KPI-OTP-DEP'", [EVIL]),
        ("update marts.kpi_alignment set owner = ? where kpi_id = 'KPI-AIR-TIME'", [EVIL]),
        ("update marts.dim_objectives set name = ? where objective_id = 'OBJ-RELIABLE'", [EVIL]),
        ("update marts.objective_alignment set name = ? where objective_id = 'OBJ-RELIABLE'", [EVIL]),
        (
            "insert into marts.unmapped_metrics (metric_name, source_name, first_row_date, last_row_date, n_rows, "
            "n_values, note, evaluation_date) values (?, 'flights', date '2013-01-01', date '2013-12-31', 1, 1, ?, "
            "date '2014-01-10')",
            [EVIL, EVIL],
        ),
    )
    problem = RunProblem("check", "raw/flights:delivery", f"data/flights/{EVIL}.csv: line 2: bad", source="flights")
    return build_report(demo_project(demo_run), paths, run_id="manual-injection", problems=[problem])


def test_names_render_as_text_in_the_report(outcome) -> None:
    html = outcome.report.html.read_text(encoding="utf-8")
    page = parse(outcome.report.html)
    assert page.count("script") == 0
    assert "<script" not in html.lower()
    # KPI name: objective table, chart caption; objective name: map, table heading; owner: findings;
    # metric: unmapped table; problem: banner
    assert page.text.count(EVIL) >= 6
    labels = [a.get("aria-label") for t, a in page.tags if t == "svg"]
    assert f"{EVIL}: actual vs target" in labels  # attributes are escaped too, and read back intact


def test_names_render_as_text_in_the_failure_notice_and_markdown(outcome) -> None:
    page = parse(outcome.notice.html)
    assert page.count("script") == 0 and EVIL in page.text
    for md in (outcome.report.markdown_text, outcome.notice.markdown_text):
        assert "<script" not in md
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in md


def test_the_injected_report_runs_nothing_in_chromium(outcome, tmp_path) -> None:
    page = render_html_file(outcome.report.html, tmp_path)
    assert page.console_errors == [] and page.requests == []
    assert not is_blank(page.screenshots["desktop"])
