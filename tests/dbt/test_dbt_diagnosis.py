"""Alignment diagnosis over time (issue 3): every KPI status and cause, since-dates, history, restating a past
date, unmapped metrics and the B18 rename, with real ``dbt build`` runs on one fixture warehouse.

The warehouse is built four times, in order, like four nights of the pipeline:

1. day 1 (2024-05-01): the catalog below; every KPI gets its status and cause.
2. day 2 (2024-05-02): K_DROP loses its link (newly orphaned), K_ORPH gains one to S3 (reconnected, and S3 is
   measured again), and the revenue export of case B18 arrives renamed: ``net_revenue`` instead of ``revenue``.
3. day 2 again, after the catalog adds ``net_revenue`` as an alias of K_REVENUE: the same date is replaced, not
   duplicated, and the KPI is connected again with its day-1 history kept.
4. day 1 restated (``--vars evaluation_date``) with the day-2 catalog in place: the statuses of day 1 come out as
   they were computed on day 1.

Monthly KPIs have a grace of 10 days: on 2024-05-01 the latest month due is March (deadline 2024-04-10), so a
KPI whose latest value is for February is silent. The daily B18 KPI has a grace of 2 days.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_fixtures import (
    LOADED_AT,
    DbtResult,
    create_warehouse,
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

CASES = Path(__file__).resolve().parents[2] / ".." / "shared" / "cases"
DAY1, DAY2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
MONTHS = [dt.date(2024, m, 1) for m in (1, 2, 3, 4)]
# dbt unit tests check model logic on fixed inputs and are run by the other dbt tests; four nights of them here
# would only cost time
BUILD = ["build", "--exclude", "test_type:unit"]

OBJECTIVES = [
    objective("S1", name="Grow revenue"),
    objective("S2", name="Keep customers"),  # only silent KPIs below it -> stale
    objective("S3", name="Safe operations"),  # only an unfed KPI below it -> unmeasured (measured on day 2)
    objective("S_OLD", name="Old plan", status="retired"),
]

# kpi id -> (status, cause_code) on day 1
DAY1_STATUSES = {
    "K_LIVE": ("connected", "connected"),
    "K_SILENT": ("silent", "value_overdue"),  # latest value February, March was due by 2024-04-10
    "K_GRACE": ("connected", "connected"),  # same data, but expected_within_days 40: February is the month due
    "K_EMPTY": ("silent", "no_value"),  # rows arrive, all without a value
    "K_NOMAP": ("unfed", "no_metric_mapped"),
    "K_NODATA": ("unfed", "metric_not_in_data"),
    "K_PARENT": ("connected", "connected"),
    "K_CHILD": ("connected", "connected_via_parent_kpi"),
    "K_CHILD_SILENT": ("silent", "value_overdue"),  # connected through its parent, but its own data stopped
    "K_LOST_PARENT": ("disconnected", "parent_kpi_missing"),
    "K_RET": ("retired", "kpi_retired"),
    "K_ORPH": ("orphaned", "no_link"),
    "K_DROP": ("connected", "connected"),
    "K_DISC": ("disconnected", "objective_retired"),  # data stopped too: structure comes first
}
B18_DAY1 = {"K_REVENUE": ("connected", "connected")}

DAY1_OBJECTIVES = {"S1": "measured", "S2": "stale", "S3": "unmeasured", "S_OLD": "inactive"}


def _b18_rows() -> tuple[list[dict[str, str]], list[dict[str, str]]] | None:
    """The two B18 deliveries as (day-1 rows, day-2 rows) of {'day', metric name: value}; None when absent."""
    files = [CASES / "B18_kpi-rename-day1.csv", CASES / "B18_kpi-rename-day2.csv"]
    if not all(f.is_file() for f in files):
        return None
    out = []
    for f in files:
        with f.open(newline="", encoding="utf-8") as handle:
            out.append(list(csv.DictReader(handle)))
    return out[0], out[1]


def _b18_metric_values(
    rows: list[dict[str, str]], source_file: str, loaded_at: dt.datetime = LOADED_AT
) -> list[dict[str, Any]]:
    """One metric row per CSV cell: the column header is the metric name (what the export calls it). A later
    delivery is a later load (``loaded_at``): the loaders stamp every load, and dbt reads what is newer."""
    values = []
    for line, row in enumerate(rows, start=2):
        for column, text in row.items():
            if column != "day":
                values.append(
                    metric_value(
                        column,
                        dt.date.fromisoformat(row["day"]),
                        float(text),
                        source_name="finance_export",
                        source_file=source_file,
                        source_row=line,
                        loaded_at=loaded_at,
                    )
                )
    return values


def _monthly(metric: str, months: list[dt.date], value: float | None = 1.0) -> list[dict[str, Any]]:
    return [metric_value(metric, m, value, source_row=i) for i, m in enumerate(months, start=1)]


def _day1_warehouse(path: Path, b18: tuple[list[dict[str, str]], list[dict[str, str]]] | None) -> None:
    con = create_warehouse(path, DAY1)
    try:
        insert(con, "catalog.objectives", OBJECTIVES)
        kpis = [kpi(k) for k in DAY1_STATUSES if k not in ("K_GRACE", "K_RET")]
        kpis += [{**kpi("K_GRACE"), "expected_within_days": 40}, kpi("K_RET", status="retired")]
        for row in kpis:
            row["parent_kpi_id"] = {"K_CHILD": "K_PARENT", "K_CHILD_SILENT": "K_PARENT", "K_LOST_PARENT": "K_GONE"}.get(
                row["kpi_id"]
            )
            row["owner"] = "finance" if row["kpi_id"] in ("K_LIVE", "K_SILENT", "K_GRACE") else "ops"
        if b18 is not None:
            kpis.append({**kpi("K_REVENUE", grain="day"), "owner": "finance"})
        insert(con, "catalog.kpis", kpis)
        insert(
            con,
            "catalog.kpi_links",
            [
                link(k, "S1")
                for k in ("K_LIVE", "K_GRACE", "K_NOMAP", "K_PARENT", "K_DROP", "K_RET")
                + (("K_REVENUE",) if b18 is not None else ())
            ]
            + [link(k, "S2") for k in ("K_SILENT", "K_EMPTY")]
            + [link("K_NODATA", "S3"), link("K_DISC", "S_OLD")],
        )
        mapped = [k for k in DAY1_STATUSES if k != "K_NOMAP"] + (["K_REVENUE"] if b18 is not None else [])
        insert(
            con,
            "catalog.kpi_metrics",
            [
                {
                    "kpi_id": k,
                    "metric_name": {"K_NODATA": "m_never_delivered", "K_REVENUE": "revenue"}.get(k, f"m_{k.lower()}"),
                    "role": "value",
                }
                for k in mapped
            ],
        )
        values = []
        for k in ("K_LIVE", "K_PARENT", "K_CHILD", "K_LOST_PARENT", "K_RET", "K_ORPH", "K_DROP"):
            values += _monthly(f"m_{k.lower()}", MONTHS)
        for k in ("K_SILENT", "K_GRACE", "K_CHILD_SILENT"):
            values += _monthly(f"m_{k.lower()}", MONTHS[:2])
        values += _monthly("m_k_empty", MONTHS, value=None)
        values += _monthly("m_k_disc", [dt.date(2023, 1, 1)])
        values += [metric_value("m_extra", dt.date(2024, 4, 1), 5.0, source_name="ops_feed")]  # nobody claims it
        if b18 is not None:
            values += _b18_metric_values(b18[0], "exports/B18_kpi-rename-day1.csv")
        insert(con, "raw.metric_values", values)
    finally:
        con.close()


def _to_day2(path: Path, b18: tuple[list[dict[str, str]], list[dict[str, str]]] | None) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("update catalog.run_context set evaluation_date = ?", [DAY2])
        con.execute("delete from catalog.kpi_links where kpi_id = 'K_DROP'")
        insert(con, "catalog.kpi_links", [link("K_ORPH", "S3")])
        if b18 is not None:
            day2_load = LOADED_AT + dt.timedelta(days=1)
            insert(con, "raw.metric_values", _b18_metric_values(b18[1], "exports/B18_kpi-rename-day2.csv", day2_load))
    finally:
        con.close()


def _add_alias(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        insert(con, "catalog.kpi_metrics", [{"kpi_id": "K_REVENUE", "metric_name": "net_revenue", "role": "value"}])
    finally:
        con.close()


def _snapshot(database: Path) -> dict[str, Any]:
    """What the marts say now, for comparing one build with a later one."""
    return {
        "kpis": {r["kpi_id"]: r for r in query_dicts(database, "select * from marts.kpi_alignment")},
        "objectives": {r["objective_id"]: r for r in query_dicts(database, "select * from marts.objective_alignment")},
        "history": query(
            database,
            "select kpi_id, evaluation_date, status, cause_code, since from marts.fct_alignment_history order by 1, 2",
        ),
        "unmapped": {r["metric_name"]: r for r in query_dicts(database, "select * from marts.unmapped_metrics")},
        "coverage": query_dicts(database, "select * from marts.fct_alignment_coverage order by evaluation_date"),
    }


@background("dbt_diagnosis_nights")
def _dbt_diagnosis_nights(root: Path, runs: RunPool) -> dict[str, Any]:
    """The four builds, in order, with the marts as each left them."""
    b18 = _b18_rows()
    work = root
    database = work / "warehouse.duckdb"
    _day1_warehouse(database, b18)
    target = work / "target"
    out: dict[str, Any] = {"database": database, "b18": b18}

    with pytest.MonkeyPatch.context() as env:
        env.setenv("KPI_ALIGN_DBT_THREADS", "2")
        out["day1_result"] = run_dbt(BUILD, database=database, target_path=target)
        out["day1"] = _snapshot(database)
        _to_day2(database, b18)
        out["day2_result"] = run_dbt(BUILD, database=database, target_path=target)
        out["day2"] = _snapshot(database)
        if b18 is not None:
            _add_alias(database)
        out["healed_result"] = run_dbt(BUILD, database=database, target_path=target)
        out["healed"] = _snapshot(database)
        out["restated_result"] = run_dbt(
            BUILD, database=database, target_path=target, dbt_vars={"evaluation_date": DAY1.isoformat()}
        )
        out["restated"] = _snapshot(database)
    return out


@pytest.fixture(scope="module")
def dbt_diagnosis_nights(runs: RunPool) -> dict[str, Any]:
    return runs.result("dbt_diagnosis_nights")


@pytest.fixture(scope="module")
def nights(dbt_diagnosis_nights) -> dict[str, Any]:
    return dbt_diagnosis_nights


def _needs_b18(nights: dict[str, Any]) -> None:
    if nights["b18"] is None:
        pytest.skip(f"{CASES} has no B18 files: ../shared is only beside the repo in development and CI")


def _expected_day1(nights: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {**DAY1_STATUSES, **(B18_DAY1 if nights["b18"] is not None else {})}


# ---- day 1: every status and cause


def test_day1_every_kpi_gets_its_status_and_cause(nights: dict[str, Any]) -> None:
    got = {k: (r["status"], r["cause_code"]) for k, r in nights["day1"]["kpis"].items()}
    assert got == _expected_day1(nights)
    assert {r["since"] for r in nights["day1"]["kpis"].values()} == {DAY1}
    assert {r["transition"] for r in nights["day1"]["kpis"].values()} == {"new"}


def test_day1_checks_fail_or_warn_by_their_severity(nights: dict[str, Any]) -> None:
    result: DbtResult = nights["day1_result"]
    checks = {uid.split(".")[-1]: r["status"] for uid, r in result.results.items() if ".assert_no_" in uid}
    assert checks == {
        "assert_no_orphaned_kpis": "warn",
        "assert_no_disconnected_kpis": "fail",
        "assert_no_silent_kpis": "warn",
        "assert_no_unfed_kpis": "fail",
        "assert_no_unmeasured_objectives": "fail",
        "assert_no_stale_objectives": "warn",
        "assert_no_unmapped_metrics": "warn",
        "assert_no_ids_needing_cleanup": "pass",
    }, result.output[-3000:]
    assert result.failures_of("assert_no_silent_kpis") == 3
    assert result.failures_of("assert_no_unfed_kpis") == 2
    assert result.failures_of("assert_no_stale_objectives") == 1  # S2
    others = {uid: r["status"] for uid, r in result.results.items() if ".assert_no_" not in uid}
    assert set(others.values()) <= {"success", "pass"}, others
    assert result.returncode == 1


def test_silent_is_judged_against_the_period_due(nights: dict[str, Any]) -> None:
    kpis = nights["day1"]["kpis"]
    silent, grace = kpis["K_SILENT"], kpis["K_GRACE"]
    assert (silent["last_value_date"], silent["last_period_start"]) == (dt.date(2024, 2, 1), dt.date(2024, 2, 1))
    assert (silent["grace_days"], silent["expected_period_start"], silent["expected_by"]) == (
        10,
        dt.date(2024, 3, 1),
        dt.date(2024, 4, 10),
    )
    assert silent["data_age_days"] == (DAY1 - dt.date(2024, 2, 29)).days
    assert "latest value is for the month starting 2024-02-01" in silent["cause_text"]
    assert "the month starting 2024-03-01 was due by 2024-04-10 (10 days after the period ends" in silent["cause_text"]
    # expected_within_days 40 of the KPI: on 2024-05-01 only February is due (deadline 2024-04-09)
    assert (grace["grace_days"], grace["expected_period_start"], grace["expected_by"]) == (
        40,
        dt.date(2024, 2, 1),
        dt.date(2024, 4, 9),
    )
    assert "its metric rows carry no value" in kpis["K_EMPTY"]["cause_text"]
    child = kpis["K_CHILD_SILENT"]
    assert "is linked (through its parent KPI chain: K_PARENT has a live link) but silent" in child["cause_text"]


def test_unfed_names_the_missing_mapping(nights: dict[str, Any]) -> None:
    kpis = nights["day1"]["kpis"]
    assert "no source metric is mapped to it" in kpis["K_NOMAP"]["cause_text"]
    nodata = kpis["K_NODATA"]
    assert "no data row for its metric(s) 'm_never_delivered' up to 2024-05-01" in nodata["cause_text"]
    assert (nodata["missing_metric_names"], nodata["n_metric_rows"], nodata["is_live"]) == (
        "m_never_delivered",
        0,
        False,
    )


def test_tree_and_structure_causes(nights: dict[str, Any]) -> None:
    kpis = nights["day1"]["kpis"]
    assert kpis["K_CHILD"]["connected_via_kpi_id"] == "K_PARENT"
    lost = kpis["K_LOST_PARENT"]
    assert lost["cause_text"] == (
        "K_LOST_PARENT (KPI K_LOST_PARENT) has no live link of its own and its parent KPI 'K_GONE' is not in the "
        "catalog."
    )
    assert "link to S_OLD (Old plan), which is retired" in kpis["K_DISC"]["cause_text"]


def test_day1_objectives_measured_stale_unmeasured(nights: dict[str, Any]) -> None:
    objectives = nights["day1"]["objectives"]
    assert {o: r["status"] for o, r in objectives.items()} == DAY1_OBJECTIVES
    s2 = objectives["S2"]
    assert (s2["cause_code"], s2["n_silent_kpis"], s2["silent_kpi_ids"]) == ("only_silent_kpis", 2, "K_EMPTY, K_SILENT")
    assert "measured only by silent KPIs" in s2["cause_text"]
    assert "K_NODATA (unfed)" in objectives["S3"]["cause_text"]
    assert objectives["S1"]["n_live_kpis"] == objectives["S1"]["n_live_kpis_total"]


def test_unmapped_metric_without_a_rename_hint(nights: dict[str, Any]) -> None:
    extra = nights["day1"]["unmapped"]["m_extra"]
    assert (extra["source_name"], extra["first_row_date"], extra["n_rows"], extra["renamed_from_kpi_ids"]) == (
        "ops_feed",
        dt.date(2024, 4, 1),
        1,
        None,
    )
    assert "renamed?" not in extra["note"]
    assert set(nights["day1"]["unmapped"]) == {"m_extra"}


def test_coverage_and_data_age_by_owner(nights: dict[str, Any]) -> None:
    (day1,) = nights["day1"]["coverage"]
    n_kpis = len(_expected_day1(nights))
    connected = sum(s == "connected" for s, _ in _expected_day1(nights).values())
    assert (day1["evaluation_date"], day1["n_kpis"], day1["n_kpis_active"], day1["n_kpis_retired"]) == (
        DAY1,
        n_kpis,
        n_kpis - 1,
        1,
    )
    assert (day1["n_kpis_silent"], day1["n_kpis_unfed"], day1["n_kpis_orphaned"], day1["n_kpis_disconnected"]) == (
        3,
        2,
        1,
        2,
    )
    assert day1["share_kpis_connected"] == pytest.approx(connected / (n_kpis - 1))
    # pursued strategic objectives: S1, S2, S3 (S_OLD is retired); one measured
    assert (day1["n_strategic_active"], day1["n_strategic_measured"], day1["n_strategic_stale"]) == (3, 1, 1)
    assert day1["share_strategic_measured"] == pytest.approx(1 / 3)
    finance = query_dicts(
        nights["database"],
        "select * from marts.fct_data_age_by_owner where owner = 'finance' and evaluation_date = date '2024-05-01'",
    )[0]
    # K_SILENT and K_GRACE: latest value February (ended 2024-02-29) -> 62 days; K_LIVE: April -> 1 day
    assert (finance["max_data_age_days"], finance["oldest_kpi_id"], finance["n_kpis_silent"]) == (62, "K_GRACE", 1)


# ---- day 2: transitions and since


def test_day2_transitions_and_since(nights: dict[str, Any]) -> None:
    kpis = nights["day2"]["kpis"]
    drop, orph, live = kpis["K_DROP"], kpis["K_ORPH"], kpis["K_LIVE"]
    assert (drop["status"], drop["previous_status"], drop["transition"], drop["since"]) == (
        "orphaned",
        "connected",
        "newly_orphaned",
        DAY2,
    )
    assert (orph["status"], orph["previous_status"], orph["transition"], orph["since"]) == (
        "connected",
        "orphaned",
        "reconnected",
        DAY2,
    )
    assert (live["status"], live["transition"], live["since"], live["previous_evaluation_date"]) == (
        "connected",
        "unchanged",
        DAY1,
        DAY1,
    )
    s3 = nights["day2"]["objectives"]["S3"]
    assert (s3["status"], s3["previous_status"], s3["transition"], s3["since"]) == (
        "measured",
        "unmeasured",
        "reconnected",
        DAY2,
    )


def test_history_keeps_both_days_and_coverage_is_tracked(nights: dict[str, Any]) -> None:
    history = nights["day2"]["history"]
    assert {d for _, d, *_ in history} == {DAY1, DAY2}
    assert [(s, c) for k, d, s, c, _ in history if k == "K_DROP"] == [
        ("connected", "connected"),
        ("orphaned", "no_link"),
    ]
    assert [r["evaluation_date"] for r in nights["day2"]["coverage"]] == [DAY1, DAY2]
    # what alignment looked like on day 1, asked on day 2
    day1_rows = {(k, s) for k, d, s, *_ in history if d == DAY1}
    assert day1_rows == {(k, s) for k, (s, _) in _expected_day1(nights).items()}


# ---- case B18: upstream rename revenue -> net_revenue


def test_b18_day2_the_renamed_metric_leaves_the_kpi_unfed_and_shows_as_unmapped(nights: dict[str, Any]) -> None:
    _needs_b18(nights)
    revenue = nights["day2"]["kpis"]["K_REVENUE"]
    assert (revenue["status"], revenue["cause_code"], revenue["transition"], revenue["since"]) == (
        "unfed",
        "metric_renamed",
        "newly_unfed",
        DAY2,
    )
    assert "its metric 'revenue' stopped arriving after 2024-05-01" in revenue["cause_text"]
    assert "'net_revenue' (source finance_export, since 2024-05-02)" in revenue["cause_text"]
    assert "renamed?" in revenue["cause_text"]
    net = nights["day2"]["unmapped"]["net_revenue"]
    assert (net["source_name"], net["first_row_date"], net["n_rows"], net["renamed_from_kpi_ids"]) == (
        "finance_export",
        DAY2,
        1,
        "K_REVENUE",
    )
    assert "renamed? it looks like 'revenue' (KPI K_REVENUE, last row 2024-05-01)" in net["note"]
    assert nights["day2_result"].status_of("assert_no_unfed_kpis") == "fail"


def test_b18_an_alias_heals_the_kpi_and_keeps_day1_history(nights: dict[str, Any]) -> None:
    _needs_b18(nights)
    healed = nights["healed"]
    revenue = healed["kpis"]["K_REVENUE"]
    assert (revenue["status"], revenue["cause_code"]) == ("connected", "connected")
    # one series under both names: the day-1 value (revenue) and the day-2 value (net_revenue)
    assert (revenue["metric_names"], revenue["n_metric_rows"], revenue["last_value_date"]) == (
        "net_revenue, revenue",
        2,
        DAY2,
    )
    assert revenue["since"] == DAY1  # connected on day 1 and again on (re-run) day 2: one uninterrupted run
    assert [(d, s) for k, d, s, *_ in healed["history"] if k == "K_REVENUE"] == [
        (DAY1, "connected"),
        (DAY2, "connected"),
    ]
    assert "net_revenue" not in healed["unmapped"]


# ---- idempotency (B17) and restating a past date


def test_rerunning_a_date_replaces_it_and_never_duplicates(nights: dict[str, Any]) -> None:
    database = nights["database"]
    assert query(
        database,
        "select count(*), count(distinct kpi_id || '|' || cast(evaluation_date as varchar)) "
        "from marts.fct_alignment_history",
    ) == [(2 * len(_expected_day1(nights)), 2 * len(_expected_day1(nights)))]
    per_date = query(
        database, "select evaluation_date, count(*) from intermediate.int_evaluation_runs group by 1 order by 1"
    )
    assert per_date == [(DAY1, 1), (DAY2, 1)]
    # the re-run of day 2 left every other KPI's day-2 row as it was
    before = {(k, d): (s, c) for k, d, s, c, _ in nights["day2"]["history"] if k != "K_REVENUE"}
    after = {(k, d): (s, c) for k, d, s, c, _ in nights["healed"]["history"] if k != "K_REVENUE"}
    assert after == before


def test_restating_day1_reproduces_the_statuses_computed_then(nights: dict[str, Any]) -> None:
    restated, day1 = nights["restated"], nights["day1"]
    assert nights["restated_result"].status_of("model.kpi_alignment.kpi_alignment") == "success"
    assert {r["evaluation_date"] for r in restated["kpis"].values()} == {DAY1}
    assert {r["is_restatement"] for r in restated["kpis"].values()} == {True}
    compare = ("status", "cause_code", "cause_text", "since")
    assert {k: tuple(r[c] for c in compare) for k, r in restated["kpis"].items()} == {
        k: tuple(r[c] for c in compare) for k, r in day1["kpis"].items()
    }
    assert {o: r["status"] for o, r in restated["objectives"].items()} == DAY1_OBJECTIVES
    # the restatement rewrote day 1 with the same content and left day 2 alone
    assert restated["history"] == nights["healed"]["history"]
    assert restated["unmapped"].keys() == day1["unmapped"].keys()
    catalog_of = query(
        nights["database"],
        "select evaluation_date, catalog_of_evaluation_date, is_restatement "
        "from intermediate.int_evaluation_runs order by 1",
    )
    assert catalog_of == [(DAY1, DAY1, True), (DAY2, DAY2, False)]


def test_history_keys_are_never_null_and_unique(nights: dict[str, Any]) -> None:
    """Case B17: the delete+insert key (evaluation_date) and the mart's key are checked by dbt tests."""
    result: DbtResult = nights["restated_result"]
    for name in (
        "not_null_fct_alignment_history_kpi_id",
        "not_null_fct_alignment_history_evaluation_date",
        "unique_combination_fct_alignment_history_kpi_id__evaluation_date",
        "not_null_int_kpi_status_log_evaluation_date",
    ):
        assert result.status_of(f"test.kpi_alignment.{name}") == "pass", name


@pytest.mark.parametrize(
    ("grace_days", "message"),
    [
        ({"month": "ten"}, "var grace_days.month must be a whole number of days >= 0, got 'ten'"),
        ({"fortnight": 5}, "var grace_days: unknown grain 'fortnight' (known: day, week, month, quarter, year)"),
    ],
)
def test_a_bad_grace_days_var_is_rejected_by_name(tmp_path: Path, grace_days: dict[str, Any], message: str) -> None:
    create_warehouse(tmp_path / "warehouse.duckdb", DAY1).close()
    result = run_dbt(
        ["compile", "--select", "int_kpi_feeds"],
        database=tmp_path / "warehouse.duckdb",
        target_path=tmp_path / "target",
        dbt_vars={"grace_days": grace_days},
    )
    assert result.returncode != 0
    assert message in result.output
