"""The compact storage behind ``raw.metric_values`` and the cheap ``unchanged`` check (issue 8).

``raw.metric_values`` is a view over ``raw.metric_values__csv`` (rows with a BIGINT file id) joined to
``raw.metric_values__files`` (one provenance row per file), plus ``raw.metric_values__rows`` (writers with per-row
provenance, and rows of a warehouse from before the change). A file whose size and mtime match what was recorded
when it was hashed — a hash taken over two seconds after that mtime — is ``unchanged`` without being read.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import duckdb
import pytest
from ingest_testkit import csv_source, load, rows

from ingest.raw_schema import METRIC_VALUES, create_raw_tables

LONG = {
    "path": "drop/*.csv",
    "layout": "long",
    "columns": {"day": "date", "metric": "varchar", "dim": "varchar", "value": "double"},
    "date": {"column": "day"},
    "metric_column": "metric",
    "value_column": "value",
    "dimension_column": "dim",
}
CONTRACT = [c for c, _ in METRIC_VALUES]


def deliver(project: Path, name: str, text: str, *, age_s: float = 0.0) -> Path:
    """Write ``drop/<name>``; ``age_s`` > 0 sets its modification time that many seconds in the past."""
    path = project / "drop" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if age_s:
        past = time.time_ns() - int(age_s * 1e9)
        os.utime(path, ns=(past, past))
    return path


def test_metric_values_view_has_the_contract_columns_and_each_file_once_in_the_file_table(project: Path, con):
    a = deliver(project, "a.csv", "day,metric,dim,value\n2024-01-01,m,x,1\n2024-01-01,m,,2\n")
    deliver(project, "b.csv", "day,metric,dim,value\n2024-01-02,m,x,3\n")
    result = load(con, csv_source(**LONG), project, "L1")
    assert [f.status for f in result.files] == ["loaded", "loaded"]

    assert [r[0] for r in rows(con, "DESCRIBE raw.metric_values")] == CONTRACT
    assert rows(con, "SELECT table_type FROM information_schema.tables WHERE table_name = 'metric_values'") == [
        ("VIEW",)
    ]
    # the compact rows carry no provenance text, only the file id
    compact = [r[0] for r in rows(con, "DESCRIBE raw.metric_values__csv")]
    assert not {"source_name", "source_file", "file_hash", "load_id", "loaded_at"} & set(compact)
    assert rows(con, "SELECT source_file, load_id FROM raw.metric_values__files ORDER BY 1") == [
        ("drop/a.csv", "L1"),
        ("drop/b.csv", "L1"),
    ]
    got = rows(
        con,
        "SELECT source_name, metric_name, period_date::VARCHAR, dimension, value, source_file, file_hash, "
        "source_row, load_id FROM raw.metric_values ORDER BY source_file, source_row",
    )
    sha_a = hashlib.sha256(a.read_bytes()).hexdigest()
    assert got[:2] == [
        ("src", "m", "2024-01-01", "x", 1.0, "drop/a.csv", sha_a, 2, "L1"),
        ("src", "m", "2024-01-01", "*", 2.0, "drop/a.csv", sha_a, 3, "L1"),
    ]
    assert got[2][5:8] == ("drop/b.csv", hashlib.sha256((project / "drop/b.csv").read_bytes()).hexdigest(), 2)


def test_replacing_a_file_swaps_its_rows_and_its_file_row_only(project: Path, con):
    deliver(project, "a.csv", "day,metric,dim,value\n2024-01-01,m,x,1\n")
    deliver(project, "b.csv", "day,metric,dim,value\n2024-01-02,m,x,3\n")
    load(con, csv_source(**LONG), project, "L1")
    old_ids = dict(rows(con, "SELECT source_file, file_id FROM raw.metric_values__files"))

    deliver(project, "a.csv", "day,metric,dim,value\n2024-01-01,m,x,10\n2024-01-03,m,x,30\n")
    result = load(con, csv_source(**LONG), project, "L2")
    assert [f.status for f in result.files] == ["replaced", "unchanged"]
    assert rows(con, "SELECT source_file, value, load_id FROM raw.metric_values ORDER BY 1, 2") == [
        ("drop/a.csv", 10.0, "L2"),
        ("drop/a.csv", 30.0, "L2"),
        ("drop/b.csv", 3.0, "L1"),
    ]
    new_ids = dict(rows(con, "SELECT source_file, file_id FROM raw.metric_values__files"))
    assert new_ids["drop/b.csv"] == old_ids["drop/b.csv"] and new_ids["drop/a.csv"] != old_ids["drop/a.csv"]
    # no orphan rows of the replaced file are left in storage
    assert rows(con, "SELECT count(*) FROM raw.metric_values__csv") == [(3,)]


# A long file read in one pass (several row groups, read in parallel) unless a record needs a closer look; a defect
# on line 250,000 of a replaced file makes it staged instead, with the same outcome as for a small file.
DEFECTS = {
    "none": ("2024-01-01,m,x,{n}", 0, 0, []),
    "bad value": ("2024-01-01,m,x,oops", 1, 0, [(250_000, "value")]),
    "formula error": ("2024-01-01,m,x,#DIV/0!", 0, 1, []),
    "duplicate": ("2024-01-01,m,x,2", 1, 0, [(250_000, None)]),
    "blank line": ("", 1, 0, [(250_000, None)]),
    "line break in quotes": ('2024-01-01,m,"x\ny",{n}', 0, 0, []),
    "extra field": ("2024-01-01,m,x,{n},9", 1, 0, [(250_000, None)]),
    "trailing delimiter": ("2024-01-01,m,x,{n},", 0, 0, []),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_a_large_long_file_loads_with_line_numbers_rejects_and_replacement_exact(project: Path, con, defect: str):
    line, rejected, formula_errors, rejects = DEFECTS[defect]
    records = 300_000

    def text(defect_line: str | None) -> str:
        body = [f"2024-01-01,m,x,{n}" for n in range(2, records + 2)]  # the value is the line number
        if defect_line is not None:
            body[250_000 - 2] = defect_line.format(n=250_000)
        return "day,metric,dim,value\n" + "\n".join(body) + "\n"

    deliver(project, "a.csv", text(None).replace(",x,", ",old,"))
    assert load(con, csv_source(**LONG), project, "L1").files[0].status == "loaded"
    deliver(project, "a.csv", text(line))
    f = load(con, csv_source(**LONG), project, "L2").files[0]

    assert (f.status, f.source_records, f.rows_loaded, f.rows_rejected) == (
        "replaced", records, records - rejected, rejected,
    ), f.message  # fmt: skip
    assert f.formula_errors == formula_errors
    assert rows(con, "SELECT line_number, field FROM raw.rejects ORDER BY 1") == rejects
    # every row in file order, each line once, nothing left of the replaced version
    assert rows(
        con,
        "SELECT count(*), count(*) FILTER (WHERE value <> source_row), count(*) FILTER (WHERE dimension = 'old') "
        "FROM raw.metric_values",
    ) == [(records - rejected, 0, 0)]


def test_a_legacy_metric_values_table_is_kept_and_its_rows_of_a_reloaded_file_replaced(project: Path, tmp_path):
    db = tmp_path / "legacy.duckdb"
    legacy = duckdb.connect(str(db))
    legacy.execute("CREATE SCHEMA raw")
    legacy.execute(
        "CREATE TABLE raw.metric_values (source_name VARCHAR, metric_name VARCHAR, period_date DATE, "
        "dimension VARCHAR NOT NULL DEFAULT '*', value DOUBLE, target_value DOUBLE, source_file VARCHAR, "
        "file_hash VARCHAR, source_row BIGINT, load_id VARCHAR, loaded_at TIMESTAMP)"
    )
    legacy.execute(
        "INSERT INTO raw.metric_values VALUES "
        "('src', 'm', DATE '2024-01-01', 'x', 1, NULL, 'drop/a.csv', 'old', 2, 'L0', TIMESTAMP '2024-01-01'), "
        "('api', 'visits', DATE '2024-01-01', '*', 7, NULL, 'https://x.example', 'h', NULL, 'L0', "
        "TIMESTAMP '2024-01-01')"
    )
    legacy.close()
    con = duckdb.connect(str(db))
    deliver(project, "a.csv", "day,metric,dim,value\n2024-01-01,m,x,5\n")
    assert load(con, csv_source(**LONG), project, "L1").files[0].status == "loaded"
    assert rows(con, "SELECT source_name, value, load_id FROM raw.metric_values ORDER BY 1") == [
        ("api", 7.0, "L0"),  # another writer's row: kept
        ("src", 5.0, "L1"),  # the file's legacy row replaced, never doubled
    ]
    assert rows(con, "SELECT count(*) FROM raw.metric_values__rows") == [(1,)]
    create_raw_tables(con)  # idempotent once migrated
    assert rows(con, "SELECT count(*) FROM raw.metric_values") == [(2,)]
    con.close()


def test_a_file_older_than_its_hash_is_unchanged_by_size_and_mtime_alone(project: Path, con):
    text = "day,metric,dim,value\n2024-01-01,m,x,1\n"
    path = deliver(project, "a.csv", text, age_s=3600)
    load(con, csv_source(**LONG), project, "L1")
    recorded = rows(con, "SELECT file_size, file_mtime_ns, hashed_at_ns > file_mtime_ns FROM raw.file_loads")
    assert recorded == [(path.stat().st_size, path.stat().st_mtime_ns, True)]

    # Same size, same mtime, hashed an hour after that mtime: trusted without reading (like make and rsync) -
    # shown by bytes that changed behind an unchanged size and mtime.
    mtime = path.stat().st_mtime_ns
    path.write_text(text.replace("1\n", "9\n"), encoding="utf-8")
    os.utime(path, ns=(mtime, mtime))
    f = load(con, csv_source(**LONG), project, "L2").files[0]
    assert (f.status, f.message) == ("unchanged", "same size and mtime as hashed")
    assert f.file_hash == hashlib.sha256(text.encode()).hexdigest()  # the hash it was recorded with
    assert rows(con, "SELECT value FROM raw.metric_values") == [(1.0,)]

    # any other mtime (a touch, a rewrite) is read and hashed again
    os.utime(path, ns=(mtime + 1_000_000_000, mtime + 1_000_000_000))
    f = load(con, csv_source(**LONG), project, "L3").files[0]
    assert f.status == "replaced"
    assert rows(con, "SELECT value FROM raw.metric_values") == [(9.0,)]


def test_a_file_modified_just_before_it_was_hashed_is_hashed_again(project: Path, con):
    # a rewrite within the file system's clock tick keeps the mtime: such "racy" entries are never trusted
    text = "day,metric,dim,value\n2024-01-01,m,x,1\n"
    path = deliver(project, "a.csv", text)
    load(con, csv_source(**LONG), project, "L1")
    mtime = path.stat().st_mtime_ns
    path.write_text(text.replace("1\n", "9\n"), encoding="utf-8")
    os.utime(path, ns=(mtime, mtime))
    f = load(con, csv_source(**LONG), project, "L2").files[0]
    assert f.status == "replaced"
    assert rows(con, "SELECT value FROM raw.metric_values") == [(9.0,)]


def test_unchanged_files_are_recorded_together_and_a_failed_new_file_keeps_its_hash(project: Path, con):
    for day in range(1, 6):
        deliver(project, f"{day}.csv", f"day,metric,dim,value\n2024-01-0{day},m,x,{day}\n", age_s=60)
    load(con, csv_source(**LONG), project, "L1")
    bad = deliver(project, "6.csv", "day,metric,value\n2024-01-06,m,6\n")  # header lacks dim
    result = load(con, csv_source(**LONG), project, "L2")
    assert [f.status for f in result.files] == ["unchanged"] * 5 + ["failed"]
    assert "header does not match" in result.files[-1].message
    assert rows(
        con,
        "SELECT status, count(*), count(file_size), count(hashed_at_ns), count(DISTINCT file_hash) "
        "FROM raw.file_loads WHERE load_id = 'L2' GROUP BY 1 ORDER BY 1",
    ) == [("failed", 1, 1, 0, 1), ("unchanged", 5, 5, 5, 5)]
    assert rows(con, "SELECT file_hash FROM raw.file_loads WHERE status = 'failed'") == [
        (hashlib.sha256(bad.read_bytes()).hexdigest(),)
    ]
    assert rows(con, "SELECT count(*) FROM raw.metric_values") == [(5,)]
