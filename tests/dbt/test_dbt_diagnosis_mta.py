"""Alignment diagnosis on real data: the MTA NYC Transit performance indicators (issue 3, "KPI trees").

``../shared/real-data/mta-nyct/Performance_NYCT.csv`` (cp1252) holds 86 monthly indicators, 2008-01 to 2018-05.
Each names a parent indicator (PARENT_SEQ, 0 = none). The test loads it the way docs/architecture.md shapes a
source-derived catalog - ``raw.source_kpis`` (parent ids kept as written), ``raw.source_kpi_metrics`` and
``raw.metric_values`` (MONTHLY_ACTUAL, MONTHLY_TARGET) - without the ingest layer, and adds the small YAML
catalog the file lacks: one strategic objective, linked from every top-level indicator. Evaluated on 2018-05-31,
the end of the file's last month: with the monthly grace of 10 days, April 2018 is the latest month due.

Expected, as the issue states: the six indicators whose parent is not in the file are disconnected with cause
parent_kpi_missing; indicators whose data stop before the month due (e.g. "Wait Assessment - Subways
(Inactive, Historic Calculations)", last value 2012-02) are silent, never connected. The oracle below reads the
CSV with Python's csv module, independently of the SQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from dbt_fixtures import DbtResult, create_warehouse, insert, link, objective, query_dicts, run_dbt
from pipeline_testkit import RunPool, background

MTA = Path(__file__).resolve().parents[2] / ".." / "shared" / "real-data" / "mta-nyct" / "Performance_NYCT.csv"
EVALUATION_DATE = dt.date(2018, 5, 31)
MONTH_DUE = dt.date(2018, 4, 1)  # 2018-05-31 - 10 days = 2018-05-21: April (deadline 2018-05-10) is due, May not
MISSING_PARENTS = {"166687", "166716", "166724", "204043", "304491", "374956"}
WAIT_ASSESSMENT_INACTIVE = "67824"


def _mta_text() -> str:
    if not MTA.is_file():
        pytest.skip(f"{MTA} not present: ../shared is only beside the repo in development and CI")
    return MTA.read_bytes().decode("cp1252")


def _oracle(text: str) -> dict[str, dict[str, Any]]:
    """Per indicator: parent as written, latest month with a monthly actual, and whether the parent exists."""
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        seq = r["INDICATOR_SEQ"].strip()
        month = dt.date(int(r["PERIOD_YEAR"]), int(r["PERIOD_MONTH"]), 1)
        entry = out.setdefault(seq, {"parent": r["PARENT_SEQ"].strip(), "last": None})
        if r["MONTHLY_ACTUAL"].strip() and (entry["last"] is None or month > entry["last"]):
            entry["last"] = month
    for entry in out.values():
        entry["top"] = entry["parent"] == "0"
        entry["parent_known"] = entry["top"] or entry["parent"] in out
    return out


def _expected_status(seq: str, oracle: dict[str, dict[str, Any]]) -> str:
    """The status rule restated for this catalog: structure first (parent chain), then data age."""
    node = oracle[seq]
    while not node["top"]:  # a child is connected if its parent is
        if not node["parent_known"]:
            return "disconnected"
        node = oracle[node["parent"]]
    return "connected" if oracle[seq]["last"] >= MONTH_DUE else "silent"


@background("dbt_diagnosis_mta_mta")
def _dbt_diagnosis_mta_mta(root: Path, runs: RunPool) -> tuple[Path, DbtResult, dict[str, dict[str, Any]]]:
    text = _mta_text()
    work = root
    utf8 = work / "Performance_NYCT.utf8.csv"  # DuckDB's read_csv does not decode cp1252
    utf8.write_text(text, encoding="utf-8", newline="")
    database = work / "warehouse.duckdb"
    con = create_warehouse(database, EVALUATION_DATE)
    try:
        con.execute(
            "create temp table mta as select *, row_number() over () + 1 as line "
            "from read_csv(?, header = true, all_varchar = true, quote = '\"', escape = '\"')",
            [str(utf8)],
        )
        con.execute("""
            insert into raw.metric_values
            select 'mta_nyct', trim(indicator_seq),
                make_date(cast(period_year as integer), cast(period_month as integer), 1), '*',
                cast(nullif(trim(monthly_actual), '') as double), cast(nullif(trim(monthly_target), '') as double),
                'Performance_NYCT.csv', 'sha', line, 'load-1', timestamp '2018-06-01 06:00'
            from mta""")
        # one KPI per indicator, attributes from its latest row; parent ids exactly as the file writes them
        con.execute("""
            insert into raw.source_kpis
            select trim(indicator_seq), arg_max(trim(indicator_name), line), arg_max(description, line),
                arg_max(indicator_unit, line),
                case arg_max(desired_change, line) when 'D' then 'lower_is_better' else 'higher_is_better' end,
                'average', 'month', arg_max(agency_name, line), 'active',
                nullif(arg_max(trim(parent_seq), line), '0'), null, 'Performance_NYCT.csv', 'mta_nyct'
            from mta group by trim(indicator_seq)""")
        con.execute("""
            insert into raw.source_kpi_metrics
            select distinct trim(indicator_seq), trim(indicator_seq), 'value', 'mta_nyct' from mta""")
        tops = [
            r[0]
            for r in con.execute("select distinct trim(indicator_seq) from mta where trim(parent_seq) = '0'").fetchall()
        ]
        insert(
            con, "catalog.objectives", [objective("MTA-SERVICE", name="Reliable transit", start=dt.date(2008, 1, 1))]
        )
        insert(con, "catalog.kpi_links", [link(seq, "MTA-SERVICE") for seq in tops])
    finally:
        con.close()
    result = run_dbt(["build", "--exclude", "test_type:unit"], database=database, target_path=work / "target")
    return database, result, _oracle(text)


@pytest.fixture(scope="module")
def dbt_diagnosis_mta_mta(runs: RunPool) -> tuple[Path, DbtResult, dict[str, dict[str, Any]]]:
    return runs.result("dbt_diagnosis_mta_mta")


@pytest.fixture(scope="module")
def mta(dbt_diagnosis_mta_mta) -> tuple[Path, DbtResult, dict[str, dict[str, Any]]]:
    return dbt_diagnosis_mta_mta


def test_every_indicator_is_judged(mta: tuple[Path, DbtResult, dict[str, dict[str, Any]]]) -> None:
    database, result, oracle = mta
    assert result.status_of("model.kpi_alignment.kpi_alignment") == "success", result.output[-3000:]
    rows = query_dicts(database, "select kpi_id from marts.kpi_alignment")
    assert {r["kpi_id"] for r in rows} == set(oracle) and len(oracle) == 86


def test_the_six_indicators_with_a_parent_outside_the_file_are_disconnected(
    mta: tuple[Path, DbtResult, dict[str, dict[str, Any]]],
) -> None:
    database, _, oracle = mta
    assert {seq for seq, e in oracle.items() if not e["parent_known"]} == MISSING_PARENTS
    rows = {
        r["kpi_id"]: r for r in query_dicts(database, "select * from marts.kpi_alignment where status = 'disconnected'")
    }
    assert set(rows) == MISSING_PARENTS
    for seq, row in rows.items():
        assert row["cause_code"] == "parent_kpi_missing"
        assert f"its parent KPI '{oracle[seq]['parent']}' is not in the catalog" in row["cause_text"]


def test_indicators_whose_data_stopped_are_silent_never_connected(
    mta: tuple[Path, DbtResult, dict[str, dict[str, Any]]],
) -> None:
    database, _, oracle = mta
    status = {r["kpi_id"]: r for r in query_dicts(database, "select * from marts.kpi_alignment")}
    assert {seq: r["status"] for seq, r in status.items()} == {seq: _expected_status(seq, oracle) for seq in oracle}
    wait = status[WAIT_ASSESSMENT_INACTIVE]
    assert wait["kpi_name"] == "Wait Assessment - Subways (Inactive, Historic Calculations)"
    assert (wait["status"], wait["cause_code"], wait["last_value_date"]) == (
        "silent",
        "value_overdue",
        dt.date(2012, 2, 1),
    )
    assert "the month starting 2018-04-01 was due by 2018-05-10" in wait["cause_text"]
    stopped = [seq for seq, e in oracle.items() if e["last"] < MONTH_DUE]
    assert stopped and all(status[seq]["status"] != "connected" for seq in stopped)


def test_counts_per_status_and_the_objective(mta: tuple[Path, DbtResult, dict[str, dict[str, Any]]]) -> None:
    database, _, oracle = mta
    coverage = query_dicts(database, "select * from marts.fct_alignment_coverage")[0]
    expected = Counter(_expected_status(seq, oracle) for seq in oracle)
    got = {s: coverage[f"n_kpis_{s}"] for s in ("connected", "disconnected", "silent", "orphaned", "unfed")}
    assert got == {s: expected.get(s, 0) for s in got}
    assert sum(got.values()) == 86
    service = query_dicts(database, "select * from marts.objective_alignment")[0]
    live = sorted(seq for seq in oracle if _expected_status(seq, oracle) == "connected")
    assert (service["status"], service["live_kpi_ids"]) == ("measured", ", ".join(live))
    assert query_dicts(database, "select count(*) as n from marts.unmapped_metrics")[0]["n"] == 0
