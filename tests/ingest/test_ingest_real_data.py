"""Real operational data nobody on the team wrote (``../shared/real-data``), through loader and GX suite.

Expected figures come from the data's README and from reading the files independently with Python's ``csv``
module, never from the loader itself.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb
import pytest
from ingest_testkit import csv_source, load, rows

from expectations.runner import validate_loaded_batch

pytestmark = pytest.mark.realdata

MTA_COLUMNS = {
    "INDICATOR_SEQ": "varchar", "PARENT_SEQ": "varchar", "AGENCY_NAME": "varchar", "INDICATOR_NAME": "varchar",
    "DESCRIPTION": "varchar", "CATEGORY": "varchar", "FREQUENCY": "varchar", "DESIRED_CHANGE": "varchar",
    "INDICATOR_UNIT": "varchar", "DECIMAL_PLACES": "integer", "PERIOD_YEAR": "integer", "PERIOD_MONTH": "integer",
    "YTD_TARGET": "double", "YTD_ACTUAL": "double", "MONTHLY_TARGET": "double", "MONTHLY_ACTUAL": "double",
}  # fmt: skip


def mta_source(path: Path):
    return csv_source(
        name="mta_nyct", path=str(path), layout="long", columns=MTA_COLUMNS,
        dialect={"encoding": "cp1252"},
        date={"year": "PERIOD_YEAR", "month": "PERIOD_MONTH"},
        metric_column="INDICATOR_SEQ", value_column="MONTHLY_ACTUAL", target_column="MONTHLY_TARGET",
        catalog={
            "kpi_id": "INDICATOR_SEQ", "kpi_name": "INDICATOR_NAME", "description": "DESCRIPTION",
            "unit": "INDICATOR_UNIT", "parent_kpi": "PARENT_SEQ", "parent_kpi_none": ["0"],
            "direction": "DESIRED_CHANGE", "direction_map": {"U": "higher_is_better", "D": "lower_is_better"},
        },
    )  # fmt: skip


def test_mta_nyct_monthly_kpis_with_targets(real_data: Path, project: Path, con: duckdb.DuckDBPyConnection):
    path = real_data / "mta-nyct" / "Performance_NYCT.csv"
    with path.open(encoding="cp1252", newline="") as fh:
        records = list(csv.DictReader(fh))
    result = load(con, mta_source(path), project).files[0]
    # README: 9,213 monthly rows for 86 indicators; every one loads
    assert (result.status, result.source_records, result.rows_loaded, result.rows_rejected) == (
        "loaded", 9213, 9213, 0,
    )  # fmt: skip
    assert rows(con, "SELECT count(*), count(DISTINCT metric_name) FROM raw.metric_values") == [(9213, 86)]
    assert rows(
        con,
        "SELECT value, target_value, dimension FROM raw.metric_values "
        "WHERE metric_name = '100360' AND period_date = DATE '2008-01-01'",
    ) == [(1.93, 2.37, "*")]
    assert rows(con, "SELECT min(period_date), max(period_date) FROM raw.metric_values") == [
        (dt.date(2008, 1, 1), dt.date(2018, 5, 1))
    ]
    # derived catalog: 86 KPIs named after their indicators, metric name = id, directions from U/D
    kpis = {k: v for k, *v in rows(con, "SELECT kpi_id, name, direction, parent_kpi_id, unit FROM raw.source_kpis")}
    assert len(kpis) == 86
    assert kpis["100360"] == ["Employee Lost Time and Restricted Duty Rate", "lower_is_better", None, "-"]
    ids = {r["INDICATOR_SEQ"] for r in records}
    with_parent = {r["INDICATOR_SEQ"] for r in records if r["PARENT_SEQ"] not in ("", "0")}
    assert {k for k, v in kpis.items() if v[2] is not None} == with_parent
    # parents missing from the file are kept as written, for dbt to report as parent_kpi_missing
    missing = {k for k in with_parent if kpis[k][2] not in ids}
    assert missing == {"166687", "166716", "166724", "204043", "304491", "374956"}
    assert rows(con, "SELECT count(*) FROM raw.source_kpi_metrics WHERE kpi_id = metric_name") == [(86,)]
    # quoted descriptions keep their line breaks (LF inside CRLF rows)
    multi = {r["INDICATOR_SEQ"]: r["DESCRIPTION"] for r in records if "\n" in r["DESCRIPTION"]}
    assert multi
    kpi, text = next(iter(sorted(multi.items())))
    assert rows(con, "SELECT description FROM raw.source_kpis WHERE kpi_id = ?", [kpi]) == [(text.strip(),)]
    # what the mapping could not take as given is said, not hidden
    assert "direction codes ['N']" in result.message and "name parents that are no KPI" in result.message
    outcome = validate_loaded_batch(con, mta_source(path), "L1", known_metrics=ids)
    assert outcome.status == "success", outcome.summary
    assert (outcome.rows_in_batch, outcome.sampled) == (9213, False)


YEARS = [str(y) for y in range(2016, 2023)]  # FY2016-FY2022 actuals; 2023/YTDScaled/Avg* are projections


def mmr_source(path: Path, header: list[str]):
    numeric = {*YEARS, "Target.MMR"}
    return csv_source(
        name="nyc_mmr", path=str(path), layout="wide",
        columns={h: "double" if h in numeric else "varchar" for h in header},
        dialect={"null_values": ["", "NA"]},
        metric_column="ID", target_column="Target.MMR",
        period_columns={y: dt.date(int(y) - 1, 7, 1) for y in YEARS},  # NYC fiscal year N starts N-1-07-01
        catalog={
            "kpi_id": "ID", "kpi_name": "Indicator", "direction": "Desired.Direction",
            "direction_map": {"Up": "higher_is_better", "Down": "lower_is_better"},
            "objective_columns": ["Service", "Goal"], "aggregation": "last", "grain": "year",
        },
    )  # fmt: skip


def test_nyc_mmr_indicators_as_a_wide_source(real_data: Path, project: Path, con: duckdb.DuckDBPyConnection):
    path = real_data / "nyc-mmr" / "mmr_tidy_indicator_level_fy2016_fy2023.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        records = list(reader)
    result = load(con, mmr_source(path, header), project).files[0]
    cells = [(r["ID"], y, float(r[y])) for r in records for y in YEARS if r[y] != "NA"]
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", 1139, 0)  # README: 1,139
    assert result.values_written == len(cells)
    assert rows(con, "SELECT count(*), count(DISTINCT period_date) FROM raw.metric_values") == [(len(cells), 7)]
    by_year = {(kpi, year): value for kpi, year, value in cells}
    loaded = {
        (m, str(p.year + 1)): v
        for m, p, v in rows(con, "SELECT metric_name, period_date, value FROM raw.metric_values")
    }
    assert loaded == by_year
    first = records[0]
    assert rows(
        con, "SELECT period_date, target_value FROM raw.metric_values WHERE metric_name = ? ORDER BY 1 LIMIT 1",
        [first["ID"]],
    ) == [(dt.date(2015, 7, 1), None if first["Target.MMR"] == "NA" else float(first["Target.MMR"]))]  # fmt: skip
    with_target = next(r for r in records if r["Target.MMR"] != "NA" and any(r[y] != "NA" for y in YEARS))
    assert rows(
        con, "SELECT DISTINCT target_value FROM raw.metric_values WHERE metric_name = ?", [with_target["ID"]]
    ) == [(float(with_target["Target.MMR"]),)]
    # Service -> Goal -> Indicator
    services = {r["Service"].strip() for r in records}
    goals = {(r["Service"].strip(), r["Goal"].strip()) for r in records}
    assert rows(con, "SELECT level, count(*) FROM raw.source_objectives GROUP BY 1 ORDER BY 1") == [
        ("operational", len(goals)),
        ("strategic", len(services)),
    ]
    assert rows(con, "SELECT count(*) FROM raw.source_kpis") == [(1139,)]
    directions = {"Up": "higher_is_better", "Down": "lower_is_better"}
    assert dict(rows(con, "SELECT kpi_id, direction FROM raw.source_kpis")) == {
        r["ID"]: directions[r["Desired.Direction"]] for r in records
    }
    linked = rows(
        con,
        "SELECT g.name, s.name FROM raw.source_kpi_links l JOIN raw.source_objectives g "
        "ON g.objective_id = l.objective_id JOIN raw.source_objectives s ON s.objective_id = g.parent_objective_id "
        "WHERE l.kpi_id = ?",
        [first["ID"]],
    )
    assert linked == [(first["Goal"].strip(), first["Service"].strip())]
    outcome = validate_loaded_batch(con, mmr_source(path, header), "L1")
    assert outcome.status == "success", outcome.summary
