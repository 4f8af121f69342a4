"""The whole pipeline (``kpi-align run``) on real files nobody here wrote: MTA NYC Transit and NYC's MMR.

Each test writes a project directory as a user would (settings, a small catalog, a source definition pointing at
the file in ``../shared/real-data`` by absolute path), runs the real CLI (in the session's background pool: see
``pipeline_testkit.background``), and checks the published marts against
figures read independently from the file with Python's ``csv`` module.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb
import pytest
import yaml
from pipeline_testkit import RunPool, background, run_cli, shared_file

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

MTA_COLUMNS = {
    "INDICATOR_SEQ": "varchar", "PARENT_SEQ": "varchar", "AGENCY_NAME": "varchar", "INDICATOR_NAME": "varchar",
    "DESCRIPTION": "varchar", "CATEGORY": "varchar", "FREQUENCY": "varchar", "DESIRED_CHANGE": "varchar",
    "INDICATOR_UNIT": "varchar", "DECIMAL_PLACES": "integer", "PERIOD_YEAR": "integer", "PERIOD_MONTH": "integer",
    "YTD_TARGET": "double", "YTD_ACTUAL": "double", "MONTHLY_TARGET": "double", "MONTHLY_ACTUAL": "double",
}  # fmt: skip
PARENTS_NOT_IN_FILE = {"166687", "166716", "166724", "204043", "304491", "374956"}
WARN_ALL = {k: "warn" for k in ("orphaned", "disconnected", "silent", "unfed", "unmeasured", "stale")}


def write_project(root: Path, settings: dict, catalog: dict, sources: list[dict]) -> Path:
    (root / "catalog").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "kpi-align.yml").write_text(yaml.safe_dump(settings, sort_keys=False))
    (root / "catalog" / "catalog.yml").write_text(yaml.safe_dump(catalog, sort_keys=False))
    (root / "sources" / "sources.yml").write_text(yaml.safe_dump({"sources": sources}, sort_keys=False))
    return root


def published(output: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(output / "serving" / "kpi_alignment.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@background("mta_pipeline_run")
def _mta(root: Path, runs: RunPool) -> tuple[Path, list[dict[str, str]]]:
    path = shared_file("real-data", "mta-nyct", "Performance_NYCT.csv")
    with path.open(encoding="cp1252", newline="") as fh:
        records = list(csv.DictReader(fh))
    top_level = sorted({r["INDICATOR_SEQ"] for r in records if r["PARENT_SEQ"] == "0"})
    project = write_project(
        root / "project",
        {"name": "mta_nyct", "evaluation_date": "2018-06-15", "severity": WARN_ALL,
         "schedule": {"cron": "0 6 * * *", "timezone": "America/New_York"}},
        {
            "objectives": [{
                "id": "MTA-SERVICE", "name": "Run a safe, reliable and courteous transit service",
                "level": "strategic", "owner": "NYC Transit President",
                "time_frame": {"start": "2015-01-01", "end": "2019-12-31"},
            }],
            "links": [{"kpi": k, "objective": "MTA-SERVICE"} for k in top_level],
        },
        [{
            "name": "mta_nyct", "path": str(path), "layout": "long", "columns": MTA_COLUMNS,
            "dialect": {"encoding": "cp1252"},
            "date": {"year": "PERIOD_YEAR", "month": "PERIOD_MONTH"},
            "metric_column": "INDICATOR_SEQ", "value_column": "MONTHLY_ACTUAL", "target_column": "MONTHLY_TARGET",
            "catalog": {
                "kpi_id": "INDICATOR_SEQ", "kpi_name": "INDICATOR_NAME", "description": "DESCRIPTION",
                "unit": "INDICATOR_UNIT", "parent_kpi": "PARENT_SEQ", "parent_kpi_none": ["0"],
                "direction": "DESIRED_CHANGE", "direction_map": {"U": "higher_is_better", "D": "lower_is_better"},
                "aggregation": "last", "grain": "month",
            },
        }],
    )  # fmt: skip
    output = root / "out"
    result = run_cli("run", "--project", str(project), env={"KPI_ALIGN_OUTPUT_DIR": str(output)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return output, records


@pytest.fixture(scope="module")
def mta_pipeline_run(runs: RunPool) -> tuple[Path, list[dict[str, str]]]:
    return runs.result("mta_pipeline_run")


@pytest.fixture(scope="module")
def mta(
    mta_pipeline_run: tuple[Path, list[dict[str, str]]],
) -> tuple[Path, list[dict[str, str]]]:
    return mta_pipeline_run


def test_mta_indicators_actuals_and_targets(mta) -> None:
    output, records = mta
    assert published(output, "select count(*) from marts.dim_kpis") == [(86,)]
    assert published(
        output,
        "select actual_value, target_value from marts.fct_kpi_values where kpi_id = '100360' and dimension = '*' "
        "and grain = 'month' and period_start = date '2008-01-01'",
    ) == [(1.93, 2.37)]
    # Spot check 20 more (indicator, month) pairs against the file itself.
    sample = [r for r in records if r["MONTHLY_ACTUAL"] not in ("", "NA")][::461][:20]
    for r in sample:
        period = dt.date(int(r["PERIOD_YEAR"]), int(r["PERIOD_MONTH"]), 1)
        got = published(
            output,
            "select actual_value from marts.fct_kpi_values where kpi_id = ? and dimension = '*' "
            "and grain = 'month' and period_start = ?",
            [r["INDICATOR_SEQ"], period],
        )
        assert got == [(pytest.approx(float(r["MONTHLY_ACTUAL"])),)], (r["INDICATOR_SEQ"], period)


def test_mta_statuses_from_its_real_hierarchy_and_gaps(mta) -> None:
    output, records = mta
    statuses = {
        k: (s, c) for k, s, c in published(output, "select kpi_id, status, cause_code from marts.kpi_alignment")
    }
    missing_parent = {k for k, (s, c) in statuses.items() if c == "parent_kpi_missing"}
    assert missing_parent == PARENTS_NOT_IN_FILE
    assert all(statuses[k][0] == "disconnected" for k in PARENTS_NOT_IN_FILE)
    last = {}
    for r in records:
        if r["MONTHLY_ACTUAL"] not in ("", "NA"):
            month = dt.date(int(r["PERIOD_YEAR"]), int(r["PERIOD_MONTH"]), 1)
            last[r["INDICATOR_SEQ"]] = max(last.get(r["INDICATOR_SEQ"], month), month)
    # Data that stop years before the file's last month (2018-05) are never connected.
    for kpi, month in last.items():
        if month < dt.date(2017, 1, 1):
            assert statuses[kpi][0] in ("silent", "disconnected", "retired"), (kpi, month, statuses[kpi])
    wait = next(
        r["INDICATOR_SEQ"] for r in records if r["INDICATOR_NAME"].startswith("Wait Assessment - Subways (Inactive")
    )
    assert statuses[wait][0] != "connected"
    # Connected means: linked through the real parent chain and a May 2018 value delivered by 2018-06-15.
    for kpi, (status, _) in statuses.items():
        if status == "connected":
            assert last[kpi] == dt.date(2018, 5, 1), kpi


@background("mmr_pipeline_run")
def _mmr(root: Path, runs: RunPool) -> tuple[Path, list[dict[str, str]]]:
    path = shared_file("real-data", "nyc-mmr", "mmr_tidy_indicator_level_fy2016_fy2023.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        records = list(reader)
    years = [str(y) for y in range(2016, 2023)]  # FY2023 and the Avg*/YTD columns are projections: not loaded
    project = write_project(
        root / "project",
        {"name": "nyc_mmr", "evaluation_date": "2022-09-01", "severity": WARN_ALL,
         "calendar": {"week_start": "monday", "fiscal_year_start_month": 7}},
        {},
        [{
            "name": "nyc_mmr", "path": str(path), "layout": "wide",
            "columns": {h: "double" if h in {*years, "Target.MMR"} else "varchar" for h in header},
            "dialect": {"null_values": ["", "NA"]},
            "metric_column": "ID", "target_column": "Target.MMR",
            "period_columns": {y: f"{int(y) - 1}-07-01" for y in years},
            "catalog": {
                "kpi_id": "ID", "kpi_name": "Indicator", "direction": "Desired.Direction",
                "direction_map": {"Up": "higher_is_better", "Down": "lower_is_better"},
                "objective_columns": ["Service", "Goal"], "aggregation": "last", "grain": "year",
            },
        }],
    )  # fmt: skip
    output = root / "out"
    result = run_cli("run", "--project", str(project), env={"KPI_ALIGN_OUTPUT_DIR": str(output)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return output, records


@pytest.fixture(scope="module")
def mmr_pipeline_run(runs: RunPool) -> tuple[Path, list[dict[str, str]]]:
    return runs.result("mmr_pipeline_run")


@pytest.fixture(scope="module")
def mmr(
    mmr_pipeline_run: tuple[Path, list[dict[str, str]]],
) -> tuple[Path, list[dict[str, str]]]:
    return mmr_pipeline_run


def test_mmr_catalog_and_values(mmr) -> None:
    output, records = mmr
    assert published(output, "select count(*) from marts.dim_kpis") == [(len({r["ID"] for r in records}),)]
    levels = dict(published(output, "select level, count(*) from marts.dim_objectives group by 1"))
    assert levels["strategic"] == len({r["Service"].strip() for r in records})
    assert levels["operational"] == len({(r["Service"].strip(), r["Goal"].strip()) for r in records})
    first = next(r for r in records if r["2022"] != "NA")
    # FY2022 = 2021-07-01 .. 2022-06-30 (the fiscal year starts in July).
    assert published(
        output,
        "select period_start, period_end, actual_value from marts.fct_kpi_values "
        "where kpi_id = ? and dimension = '*' and grain = 'year' and period_start = date '2021-07-01'",
        [first["ID"]],
    ) == [(dt.date(2021, 7, 1), dt.date(2022, 6, 30), pytest.approx(float(first["2022"])))]


def test_mmr_statuses(mmr) -> None:
    output, records = mmr
    statuses = dict(published(output, "select kpi_id, status from marts.kpi_alignment"))
    stopped = next(
        r["ID"] for r in records if r["2016"] != "NA" and all(r[y] == "NA" for y in ("2020", "2021", "2022"))
    )
    assert statuses[stopped] == "silent"
    current = next(r["ID"] for r in records if r["2022"] != "NA")
    assert statuses[current] == "connected"
    no_target = next(r["ID"] for r in records if r["Target.MMR"] == "NA" and r["2022"] != "NA")
    assert published(
        output,
        "select target_value from marts.fct_kpi_values where kpi_id = ? and dimension = '*' and is_native_grain "
        "and period_start = date '2021-07-01'",
        [no_target],
    ) == [(None,)]
