"""Real ``dbt build`` on a hand-made catalog covering every KPI and objective status and cause.

Evaluation date 2024-06-30 (catalog.run_context). Each KPI below exists to hit one rule; the expected status and
cause are written next to it.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_fixtures import (
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

EVALUATION_DATE = dt.date(2024, 6, 30)
MAY, JUNE = dt.date(2024, 5, 10), dt.date(2024, 6, 2)

OBJECTIVES = [
    objective("S1", name="Grow revenue", end=dt.date(2026, 12, 31)),
    objective("S2", name="Old strategy", status="retired"),
    objective("S3", name="2020-23 plan", start=dt.date(2020, 1, 1), end=dt.date(2023, 12, 31)),
    objective("S4", name="Delight customers"),  # nothing measures it -> unmeasured
    objective("S6", name="Next plan", start=dt.date(2025, 1, 1)),
    objective("O1", level="operational", parent="S1", name="Sell more"),
    objective("O2", level="operational", parent="S2"),
    objective("O3", level="operational", parent="S-MISSING"),
    objective("O4", level="operational", parent=" s1"),  # whitespace and case: resolves to S1, reported
    objective("O5", level="operational"),  # operational without parent: reaches no strategic objective
    objective("O6", level="operational", parent="S1", status="achieved"),
    objective("C1", level="operational", parent="C2"),
    objective("C2", level="operational", parent="C1"),
]

# kpi id -> (expected status, expected cause_code)
EXPECTED_KPIS = {
    "K_CONN": ("connected", "connected"),
    "K_ORPH": ("orphaned", "no_link"),
    "K_BLANK_LINK": ("orphaned", "no_link"),
    "K_INFO": ("orphaned", "only_informational_links"),
    "K_RET": ("retired", "kpi_retired"),
    "K_RETIRED_OBJ": ("disconnected", "objective_retired"),
    "K_ENDED": ("disconnected", "objective_time_frame_ended"),
    "K_MISSING": ("disconnected", "missing_parent_objective"),
    "K_EXPIRED": ("disconnected", "link_expired"),
    "K_FUTURE": ("disconnected", "link_not_yet_valid"),
    "K_UNKNOWN": ("disconnected", "unknown_objective"),
    "K_CYCLE": ("disconnected", "objective_cycle"),
    "K_NOSTRAT": ("disconnected", "no_strategic_objective"),
    "K_ACHIEVED": ("disconnected", "objective_achieved"),
    "K_CASE": ("connected", "connected"),
    "K_CHILD": ("connected", "connected_via_parent_kpi"),
    "K_CHILD_BAD": ("disconnected", "parent_kpi_not_connected"),
    "K_CHILD_RET": ("disconnected", "parent_kpi_retired"),
    "K_CHILD_GHOST": ("disconnected", "parent_kpi_missing"),
    "K_NODATA": ("unfed", "no_metric_mapped"),  # linked, but no metric mapped
    "K_SRC": ("connected", "connected"),
}

PARENTS = {"K_CHILD": "K_CONN", "K_CHILD_BAD": "K_RETIRED_OBJ", "K_CHILD_RET": "K_RET", "K_CHILD_GHOST": "K_GHOST"}

LINKS = [
    link("K_CONN", "O1"),
    link("K_BLANK_LINK", None),
    link("K_INFO", "S1", informational=True),
    link("K_RET", "O1"),
    link("K_RETIRED_OBJ", "O2"),
    link("K_ENDED", "S3"),
    link("K_MISSING", "O3"),
    link("K_EXPIRED", "S1", valid_to=dt.date(2024, 3, 31)),
    link("K_FUTURE", "S1", valid_from=dt.date(2024, 9, 1)),
    link("K_UNKNOWN", "NOPE"),
    link("K_CYCLE", "C1"),
    link("K_NOSTRAT", "O5"),
    link("K_ACHIEVED", "O6"),
    link("K_CASE", "O4 "),
    link("K_NODATA", "S1"),
]

# (expected status, n_live_kpis_direct, n_live_kpis_total)
EXPECTED_OBJECTIVES = {
    "S1": ("measured", 0, 3),  # K_CONN and K_CHILD through O1, K_CASE through O4
    "O1": ("measured", 2, 2),
    "O4": ("measured", 1, 1),
    "S2": ("inactive", 0, 0),
    "O2": ("inactive", 0, 0),
    "S3": ("inactive", 0, 0),
    "S6": ("inactive", 0, 0),
    "O6": ("inactive", 0, 0),
    "S4": ("unmeasured", 0, 0),
    "O3": ("unmeasured", 0, 0),
    "O5": ("unmeasured", 0, 0),
    "C1": ("unmeasured", 0, 0),
    "C2": ("unmeasured", 0, 0),
    "SRC-SVC": ("measured", 0, 1),
    "SRC-GOAL": ("measured", 1, 1),
}


def build_warehouse(path: Path) -> None:
    """The scenario's catalog.* and raw.* rows."""
    con = create_warehouse(path, EVALUATION_DATE)
    try:
        insert(con, "catalog.objectives", OBJECTIVES)
        catalog_kpis = [
            kpi(k, parent=PARENTS.get(k), status="retired" if k == "K_RET" else "active")
            for k in EXPECTED_KPIS
            if k != "K_SRC"
        ]
        insert(con, "catalog.kpis", catalog_kpis)
        insert(con, "catalog.kpi_links", LINKS)
        with_data = [k for k in EXPECTED_KPIS if k != "K_NODATA"]
        insert(
            con,
            "catalog.kpi_metrics",
            [{"kpi_id": k, "metric_name": f"m_{k.lower()}", "role": "value"} for k in with_data],
        )
        insert(
            con,
            "catalog.targets",
            [
                {
                    "kpi_id": "K_CONN",
                    "period_start": dt.date(2024, 1, 1),
                    "period_end": dt.date(2024, 12, 31),
                    "target_type": "at_least",
                    "target_value": 100.0,
                }
            ],
        )
        values = [metric_value(f"m_{k.lower()}", JUNE, 1.0) for k in with_data if k != "K_CONN"]
        values += [
            metric_value("m_k_conn", MAY, 10.0, dimension="A"),
            metric_value("m_k_conn", MAY, 5.0, dimension="B"),
            metric_value("m_k_conn", JUNE, 7.0, dimension="A"),
        ]
        insert(con, "raw.metric_values", values)
        # A source that derives its own catalog (like NYC MMR's Service -> Goal -> Indicator), and a
        # source-derived definition of K_CONN that the YAML definition overrides.
        insert(
            con,
            "raw.source_objectives",
            [
                {**objective("SRC-SVC"), "source_name": "mmr"},
                {**objective("SRC-GOAL", level="operational", parent="SRC-SVC"), "source_name": "mmr"},
            ],
        )
        insert(
            con,
            "raw.source_kpis",
            [
                {**kpi("K_SRC"), "source_name": "mmr"},
                {**kpi("K_CONN", name="derived duplicate"), "source_name": "mmr"},
            ],
        )
        insert(con, "raw.source_kpi_links", [{**link("K_SRC", "SRC-GOAL"), "source_name": "mmr"}])
        insert(
            con,
            "raw.source_kpi_metrics",
            [
                {"kpi_id": "K_SRC", "metric_name": "m_k_src", "role": "value", "source_name": "mmr"},
            ],
        )
    finally:
        con.close()


@background("dbt_alignment_scenario")
def _dbt_alignment_scenario(root: Path, runs: RunPool) -> tuple[Path, DbtResult]:
    work = root
    database = work / "warehouse.duckdb"
    build_warehouse(database)
    result = run_dbt(["build"], database=database, target_path=work / "target")
    return database, result


@pytest.fixture(scope="module")
def dbt_alignment_scenario(runs: RunPool) -> tuple[Path, DbtResult]:
    return runs.result("dbt_alignment_scenario")


@pytest.fixture(scope="module")
def scenario(dbt_alignment_scenario) -> tuple[Path, DbtResult]:
    return dbt_alignment_scenario


@pytest.fixture(scope="module")
def kpis(scenario: tuple[Path, DbtResult]) -> dict[str, dict[str, Any]]:
    database, _ = scenario
    return {r["kpi_id"]: r for r in query_dicts(database, "select * from marts.kpi_alignment")}


def test_every_model_builds_and_only_the_alignment_checks_fail(scenario: tuple[Path, DbtResult]) -> None:
    _, result = scenario
    failed = {
        uid.split(".")[-1]: r["status"] for uid, r in result.results.items() if r["status"] not in ("success", "pass")
    }
    assert failed == {
        "assert_no_orphaned_kpis": "warn",
        "assert_no_disconnected_kpis": "fail",
        "assert_no_unmeasured_objectives": "fail",
        "assert_no_ids_needing_cleanup": "warn",
        "assert_no_unfed_kpis": "fail",  # K_NODATA
    }, result.output[-3000:]
    assert result.returncode == 1  # error-severity findings fail the build
    assert result.failures_of("assert_no_orphaned_kpis") == 3
    assert result.failures_of("assert_no_disconnected_kpis") == 12
    assert result.failures_of("assert_no_unmeasured_objectives") == 1  # S4; operational ones are not counted
    assert result.failures_of("assert_no_ids_needing_cleanup") == 1  # K_CASE


def test_each_kpi_gets_its_status_and_cause(kpis: dict[str, dict[str, Any]]) -> None:
    got = {k: (row["status"], row["cause_code"]) for k, row in kpis.items()}
    assert got == EXPECTED_KPIS


@pytest.mark.parametrize(
    ("kpi_id", "fragments"),
    [
        ("K_CONN", ["reaches strategic objective S1", "O1 > S1"]),
        ("K_BLANK_LINK", ["no link to any objective", "names no objective id"]),
        ("K_INFO", ["only informational links", "S1 (Grow revenue)"]),
        ("K_RETIRED_OBJ", ["link to O2", "S2 (Old strategy) is retired"]),
        ("K_ENDED", ["link to S3 (2020-23 plan), which ended on 2023-12-31"]),
        ("K_MISSING", ["O3", "names parent objective 'S-MISSING', which is not in the catalog"]),
        ("K_EXPIRED", ["link to S1 (Grow revenue) ended on 2024-03-31"]),
        ("K_FUTURE", ["valid only from 2024-09-01"]),
        ("K_UNKNOWN", ["objective 'NOPE', which is not in the catalog"]),
        ("K_CYCLE", ["loops", "C1 > C2"]),
        ("K_NOSTRAT", ["O5", "operational and has no parent"]),
        ("K_ACHIEVED", ["O6", "is achieved"]),
        ("K_CHILD", ["parent KPI chain", "K_CONN"]),
        ("K_CHILD_BAD", ["parent KPI K_RETIRED_OBJ", "S2 (Old strategy) is retired"]),
        ("K_CHILD_RET", ["K_RET (KPI K_RET) is retired"]),
        ("K_CHILD_GHOST", ["parent KPI 'K_GHOST' is not in the catalog"]),
    ],
)
def test_cause_text_names_the_objective_or_parent_involved(
    kpis: dict[str, dict[str, Any]], kpi_id: str, fragments: list[str]
) -> None:
    text = kpis[kpi_id]["cause_text"]
    assert text.startswith(kpi_id)
    for fragment in fragments:
        assert fragment in text, text


def test_data_and_link_counts(kpis: dict[str, dict[str, Any]]) -> None:
    conn, nodata, expired = kpis["K_CONN"], kpis["K_NODATA"], kpis["K_EXPIRED"]
    assert (conn["has_data"], conn["last_period_start"], conn["n_periods_with_data"]) == (True, dt.date(2024, 6, 1), 2)
    assert (conn["n_links"], conn["n_active_links"], conn["n_live_links"], conn["is_live"]) == (1, 1, 1, True)
    # linked but fed by no metric: unfed, not live, so it measures nothing
    assert (nodata["status"], nodata["has_data"], nodata["is_live"]) == ("unfed", False, False)
    assert (expired["n_links"], expired["n_active_links"], expired["n_live_links"]) == (1, 0, 0)
    assert kpis["K_UNKNOWN"]["n_active_links"] == 0  # a link to an unknown objective is not active
    assert kpis["K_RETIRED_OBJ"]["n_active_links"] == 1  # active link, broken chain
    assert kpis["K_CHILD"]["connected_via_kpi_id"] == "K_CONN"
    assert kpis["K_CHILD"]["strategic_objective_ids"] == "S1"
    assert kpis["K_SRC"]["origin"] == "source"
    assert kpis["K_ORPH"]["evaluation_date"] == EVALUATION_DATE


def test_ids_that_needed_cleanup_are_linked_and_reported(
    scenario: tuple[Path, DbtResult], kpis: dict[str, dict[str, Any]]
) -> None:
    database, _ = scenario
    case = kpis["K_CASE"]
    assert case["status"] == "connected" and case["id_needed_cleanup"] is True
    assert case["id_cleanup_text"] == "link objective id 'O4 ' read as 'O4' (surrounding whitespace)"
    o4 = query_dicts(database, "select * from marts.dim_objectives where objective_id = 'O4'")[0]
    assert (o4["parent_objective_id"], o4["parent_id_cleanup_reason"], o4["id_needed_cleanup"]) == (
        "S1",
        "surrounding whitespace and letter case",
        True,
    )
    assert kpis["K_CONN"]["id_needed_cleanup"] is False


def test_each_objective_gets_its_status_and_live_kpi_counts(scenario: tuple[Path, DbtResult]) -> None:
    database, _ = scenario
    rows = query_dicts(database, "select * from marts.objective_alignment")
    got = {r["objective_id"]: (r["status"], r["n_live_kpis_direct"], r["n_live_kpis_total"]) for r in rows}
    assert got == EXPECTED_OBJECTIVES
    text = {r["objective_id"]: r["cause_text"] for r in rows}
    assert "K_CASE, K_CHILD, K_CONN" in text["S1"]
    assert "with no connected KPI with data" in text["S4"]
    assert text["S2"] == "S2 (Old strategy) is not pursued on 2024-06-30: it is retired."
    assert "because an objective above it is not: S2 (Old strategy) is retired" in text["O2"]
    assert "linked KPIs that are not live: K_MISSING (disconnected)" in text["O3"]


def test_kpi_values_per_period_and_dimension_with_targets(scenario: tuple[Path, DbtResult]) -> None:
    database, _ = scenario
    rows = query(
        database,
        """
        select period_start, period_end, dimension, actual_value, target_value, target_type, target_origin
        from marts.fct_kpi_values where kpi_id = 'K_CONN' and is_native_grain order by period_start, dimension""",
    )
    assert rows == [
        # a sum KPI's annual target of 100 is phased to each month's days (dbt_project _int_scoring.yml)
        (dt.date(2024, 5, 1), dt.date(2024, 5, 31), "*", 15.0, 100 * (31 / 366), "at_least", "catalog_phased"),
        (dt.date(2024, 5, 1), dt.date(2024, 5, 31), "A", 10.0, None, None, None),
        (dt.date(2024, 5, 1), dt.date(2024, 5, 31), "B", 5.0, None, None, None),
        (dt.date(2024, 6, 1), dt.date(2024, 6, 30), "*", 7.0, 100 * (30 / 366), "at_least", "catalog_phased"),
        (dt.date(2024, 6, 1), dt.date(2024, 6, 30), "A", 7.0, None, None, None),
    ]
    assert query(database, "select count(*) from marts.fct_kpi_values where kpi_id = 'K_NODATA'") == [(0,)]


def test_yaml_definition_wins_over_a_source_derived_duplicate(scenario: tuple[Path, DbtResult]) -> None:
    database, _ = scenario
    assert query(database, "select kpi_name, origin, n_definitions from marts.dim_kpis where kpi_id = 'K_CONN'") == [
        ("KPI K_CONN", "catalog", 2)
    ]


def test_bridge_states_one_row_per_link(scenario: tuple[Path, DbtResult]) -> None:
    database, _ = scenario
    states = dict(query(database, "select kpi_id, link_state from marts.bridge_kpi_objectives"))
    assert states["K_CONN"] == "live" and states["K_EXPIRED"] == "link_expired"
    assert states["K_BLANK_LINK"] == "no_objective_id" and states["K_SRC"] == "live"
    assert query(database, "select count(*) from marts.bridge_kpi_objectives") == [(len(LINKS) + 1,)]


@pytest.fixture(scope="module")
def rerun(scenario: tuple[Path, DbtResult], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DbtResult]:
    """A second build on a copy of the scenario: K_CONN renamed, K_ORPH removed from the catalog, evaluation date
    2024-02-15 given as a var, severities changed through the severity var."""
    work = tmp_path_factory.mktemp("dbt-rerun")
    database = work / "warehouse.duckdb"
    shutil.copy(scenario[0], database)
    con = duckdb.connect(str(database))
    con.execute("update catalog.kpis set name = 'Revenue (renamed)' where kpi_id = 'K_CONN'")
    con.execute("delete from catalog.kpis where kpi_id = 'K_ORPH'")
    con.close()
    result = run_dbt(
        ["build"],
        database=database,
        target_path=work / "target",
        dbt_vars={
            "evaluation_date": "2024-02-15",
            "severity": {"orphaned": "error", "disconnected": "warn", "unmeasured": "off"},
        },
    )
    return database, result


def test_snapshots_keep_the_catalog_history(rerun: tuple[Path, DbtResult]) -> None:
    database, result = rerun
    assert result.status_of("snapshot.kpi_alignment.snp_catalog__kpis") == "success"
    history = query(
        database,
        """
        select kpi_name, dbt_valid_to is null from snapshots.snp_catalog__kpis
        where kpi_id = 'K_CONN' order by dbt_valid_from""",
    )
    assert history == [("KPI K_CONN", False), ("Revenue (renamed)", True)]
    removed = query(
        database, "select dbt_valid_to is not null from snapshots.snp_catalog__kpis where kpi_id = 'K_ORPH'"
    )
    assert removed == [(True,)]
    assert query(database, "select count(*) from snapshots.snp_catalog__kpi_links") == [(len(LINKS) + 1,)]


def test_evaluation_date_var_overrides_run_context(rerun: tuple[Path, DbtResult]) -> None:
    database, _ = rerun
    assert query(database, "select distinct evaluation_date from marts.kpi_alignment") == [(dt.date(2024, 2, 15),)]
    status = dict(query(database, "select kpi_id, status from marts.kpi_alignment"))
    # its link holds until 2024-03-31; its only value is dated June, which does not exist yet on 2024-02-15
    assert status["K_EXPIRED"] == "unfed"
    assert query(database, "select n_live_links from marts.kpi_alignment where kpi_id = 'K_EXPIRED'") == [(1,)]
    assert "K_ORPH" not in status


def test_severities_come_from_the_severity_var(rerun: tuple[Path, DbtResult]) -> None:
    _, result = rerun
    statuses = {uid.split(".")[-1]: r["status"] for uid, r in result.results.items() if ".assert_no_" in uid}
    assert statuses == {
        "assert_no_orphaned_kpis": "fail",  # error now (K_BLANK_LINK, K_INFO)
        "assert_no_disconnected_kpis": "warn",
        "assert_no_ids_needing_cleanup": "warn",  # unmeasured is off: not run at all
        "assert_no_unfed_kpis": "fail",  # no value is dated on or before 2024-02-15 (default error)
        "assert_no_silent_kpis": "pass",
        "assert_no_stale_objectives": "pass",
        "assert_no_unmapped_metrics": "pass",
    }, result.output[-3000:]
