"""Incremental metric values (issue 8, nightly increment): builds after new files, after a re-delivered file that
changes values and drops keys (a dimension, and a whole metric-day), and for a past evaluation date give the same
marts as ``--full-refresh`` on the same raw data.

One warehouse is built once with every data test (the ``built`` fixture); each step then runs the real ``dbt build``
(models and snapshots: the data tests passed on the first build and decide nothing here) on it, and the same build
with ``--full-refresh`` on a copy taken just before; the marts (timestamps of the run left out) and the latest
metric values must be equal.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_fixtures import create_warehouse, insert, kpi, link, metric_value, objective, query, run_dbt

EVALUATION_DATE = dt.date(2024, 6, 30)
MARTS = (
    "fct_kpi_values",
    "fct_objective_scores",
    "kpi_alignment",
    "objective_alignment",
    "unmapped_metrics",
    "fct_alignment_history",
    "fct_data_age_by_owner",
)


def _rows(file: str, load: str, at: dt.datetime, values: dict[tuple[str, dt.date, str], float]) -> list[dict]:
    rows = []
    for line, ((metric, day, dimension), value) in enumerate(sorted(values.items()), start=2):
        row = metric_value(metric, day, value, dimension=dimension, source_file=file, loaded_at=at, source_row=line)
        rows.append({**row, "load_id": load, "file_hash": f"hash-{load}"})
    return rows


def _deliver(con: duckdb.DuckDBPyConnection, file: str, load: str, at: dt.datetime, values: dict) -> None:
    """What the CSV loader does for a (re-)delivered file: its earlier rows replaced in one transaction."""
    con.execute("delete from raw.metric_values where source_file = ?", [file])
    insert(con, "raw.metric_values", _rows(file, load, at, values))
    insert(
        con,
        "raw.file_loads",
        [{"source_name": "fixture_source", "source_file": file, "status": "loaded", "load_id": load, "loaded_at": at}],
    )


def _day(n: int) -> dt.date:
    return dt.date(2024, 6, 1) + dt.timedelta(days=n)


def _file_values(days: range, *, scale: float = 1.0) -> dict:
    values: dict = {}
    for n in days:
        for dimension in ("east", "west"):
            values[("orders", _day(n), dimension)] = (10 + n) * scale
            values[("returns", _day(n), dimension)] = (1 + n % 3) * scale
            values[("visits", _day(n), dimension)] = 100 + n  # nobody maps it: unmapped_metrics
    return values


def _setup(path: Path) -> None:
    con = create_warehouse(path, EVALUATION_DATE)
    insert(con, "catalog.objectives", [objective("S1"), objective("O1", level="operational", parent="S1")])
    insert(
        con,
        "catalog.kpis",
        [kpi("K_ORDERS", grain="day"), kpi("K_RETURNS", aggregation="average", grain="week")],
    )
    insert(
        con,
        "catalog.kpi_metrics",
        [
            {"kpi_id": "K_ORDERS", "metric_name": "orders", "role": "value"},
            {"kpi_id": "K_RETURNS", "metric_name": "returns", "role": "value"},
        ],
    )
    insert(con, "catalog.kpi_links", [link("K_ORDERS", "O1"), link("K_RETURNS", "O1")])
    _deliver(con, "data/a.csv", "load-a1", dt.datetime(2024, 6, 20, 6), _file_values(range(0, 10)))
    _deliver(con, "data/b.csv", "load-b1", dt.datetime(2024, 6, 21, 6), _file_values(range(10, 20)))
    con.close()


def _snapshot(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every mart's rows without timestamp columns (they say when a build ran), sorted; and the latest values."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in MARTS:
        columns = [
            name
            for name, typ in query(
                database,
                "select column_name, data_type from information_schema.columns "
                f"where table_schema = 'marts' and table_name = '{table}' order by ordinal_position",
            )
            if "TIMESTAMP" not in typ
        ]
        out[table] = sorted(query(database, f"select {', '.join(columns)} from marts.{table}"), key=repr)
    out["latest"] = sorted(
        query(database, "select * exclude (refreshed_at) from intermediate.int_metric_values_latest"), key=repr
    )
    return out


def _build(
    database: Path, work: Path, *args: str, evaluation_date: dt.date | None = None, data_tests: bool = False
) -> None:
    dbt_vars = {"evaluation_date": evaluation_date.isoformat()} if evaluation_date else None
    excluded = ["resource_type:unit_test"] if data_tests else ["resource_type:unit_test", "resource_type:test"]
    result = run_dbt(
        ["build", "--exclude", *excluded, *args],
        database=database,
        target_path=work / "target",
        dbt_vars=dbt_vars,
    )
    assert result.returncode == 0, result.output[-4000:]


def _incremental_equals_full_refresh(database: Path, tmp_path: Path, step: str, **kw: Any) -> dict:
    """Build ``database`` incrementally and a copy of it with --full-refresh; both must hold the same marts."""
    copy = tmp_path / f"{step}-full.duckdb"
    shutil.copy(database, copy)
    _build(database, tmp_path / f"{step}-incremental", **kw)
    _build(copy, tmp_path / f"{step}-full", "--full-refresh", **kw)
    incremental, full = _snapshot(database), _snapshot(copy)
    for name in full:
        assert incremental[name] == full[name], f"{step}: {name} differs between incremental and full refresh"
    return incremental


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture warehouse after its first build (which creates the incremental model from all history), with
    every data test; tests work on copies."""
    work = tmp_path_factory.mktemp("incremental")
    database = work / "warehouse.duckdb"
    _setup(database)
    _build(database, work / "first", data_tests=True)
    return database


def test_incremental_builds_equal_full_refresh(built: Path, tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(built, database)

    # a new file: two new days
    con = duckdb.connect(str(database))
    _deliver(con, "data/c.csv", "load-c1", dt.datetime(2024, 6, 22, 6), _file_values(range(20, 22)))
    con.close()
    after_new = _incremental_equals_full_refresh(database, tmp_path, "new-file")
    assert len(after_new["latest"]) == 22 * 2 * 3

    # file a re-delivered days later: values doubled, dimension 'west' of day 3 gone, 'returns' of day 4 gone
    restated = _file_values(range(0, 10), scale=2.0)
    del restated[("orders", _day(3), "west")]
    del restated[("returns", _day(4), "east")], restated[("returns", _day(4), "west")]
    con = duckdb.connect(str(database))
    _deliver(con, "data/a.csv", "load-a2", dt.datetime(2024, 6, 29, 6), restated)
    con.close()
    after_restatement = _incremental_equals_full_refresh(database, tmp_path, "restated-file")
    latest = {(r[0], r[1], r[2]): r for r in after_restatement["latest"]}  # metric, date, dimension
    assert ("orders", _day(3), "west") not in latest
    assert ("returns", _day(4), "east") not in latest
    assert latest[("orders", _day(3), "east")][3] == 2 * (10 + 3)
    assert len(latest) == 22 * 2 * 3 - 3

    # a value delivered later for an old day in another file: the latest load wins, both versions counted
    con = duckdb.connect(str(database))
    _deliver(con, "data/fix.csv", "load-fix", dt.datetime(2024, 6, 30, 6), {("orders", _day(5), "east"): 99.0})
    con.close()
    after_fix = _incremental_equals_full_refresh(database, tmp_path, "correction")
    fixed = next(r for r in after_fix["latest"] if r[:3] == ("orders", _day(5), "east"))
    assert fixed[3] == 99.0
    assert fixed[-1] == 2  # n_versions

    # restating a past evaluation date: data dated after it do not exist for it, incrementally or not
    _incremental_equals_full_refresh(database, tmp_path, "as-of", evaluation_date=dt.date(2024, 6, 12))


def test_unique_key_test_sees_duplicates_the_latest_build_wrote(built: Path, tmp_path: Path) -> None:
    """The uniqueness test reads only keys the latest build wrote; a duplicate of an older row is still caught."""
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(built, database)
    con = duckdb.connect(str(database))
    con.execute(
        "insert into intermediate.int_metric_values_latest select * replace (now() as refreshed_at) "
        "from intermediate.int_metric_values_latest limit 1"
    )
    con.close()
    result = run_dbt(
        ["test", "--select", "int_metric_values_latest"], database=database, target_path=tmp_path / "target"
    )
    assert result.status_of("unique_combination_int_metric_values_latest") == "fail"
