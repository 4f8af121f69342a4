"""The CSV loader on hand-made files: line numbers, rejects, transactions, idempotency, layouts, encodings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from ingest_testkit import csv_source, load, rows

from ingest.csv_loader import LOADER_VERSION, source_files
from ingest.raw_schema import RawSchemaError

KV = {"k": "varchar", "v": "double"}


def table_source(**fields):
    return csv_source(path="data.csv", layout="table", table="t", columns=KV, **fields)


def loaded(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return rows(con, "SELECT k, v, source_row FROM raw.t ORDER BY source_row")


def rejected(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return rows(con, "SELECT line_number, field, reason, raw_line FROM raw.rejects ORDER BY line_number, field")


# --- line numbers -------------------------------------------------------------------------------------------------


def test_line_numbers_count_banner_header_blank_lines_but_not_breaks_in_quotes(project: Path, con):
    (project / "data.csv").write_bytes(
        b"Report\nGenerated 2024-06-01\n"  # lines 1-2: banner (skip_lines)
        b"k,v\n"  # 3: header
        b"x,1\n"  # 4
        b'"y\nz",2\n'  # 5 (one line: the break is inside quotes)
        b"w,oops\n"  # 6: reject
        b"\n"  # 7: blank
        b"q,4\n"  # 8
        b"r,5,6\n"  # 9: reject (a real extra value)
        b"s,6,\n"  # 10: empty extra field, loaded
        b"\n\n"  # trailing blank lines: ignored
    )
    result = load(con, table_source(dialect={"skip_lines": 2}), project)
    f = result.files[0]
    assert (f.status, f.source_records, f.rows_loaded, f.rows_rejected) == ("loaded", 7, 4, 3)
    assert loaded(con) == [("x", 1.0, 4), ("y\nz", 2.0, 5), ("q", 4.0, 8), ("s", 6.0, 10)]
    assert [(line, field, raw) for line, field, _, raw in rejected(con)] == [
        (6, "v", "w,oops"),
        (7, None, ""),
        (9, None, "r,5,6"),
    ]


def test_blank_lines_located_in_a_file_with_multiline_fields(project: Path, con):
    # blank lines and quoted line breaks (even a blank line inside quotes) in one file
    (project / "data.csv").write_bytes(b'k,v\n"a\nb",1\n\nc,2\n"d\n\ne",3\n\nf,x\ng,4\n')
    f = load(con, table_source(), project).files[0]
    assert (f.source_records, f.rows_loaded, f.rows_rejected) == (7, 4, 3)
    assert loaded(con) == [("a\nb", 1.0, 2), ("c", 2.0, 4), ("d\n\ne", 3.0, 5), ("g", 4.0, 8)]
    assert [(line, reason) for line, _, reason, _ in rejected(con)] == [
        (3, "blank line"),
        (6, "blank line"),
        (7, "not a number (decimal '.', no thousands separator): x"),
    ]


def test_crlf_blank_line_and_missing_final_newline(project: Path, con):
    (project / "data.csv").write_bytes(b"k,v\r\na,1\r\n\r\nb,2")
    f = load(con, table_source(), project).files[0]
    assert loaded(con) == [("a", 1.0, 2), ("b", 2.0, 4)]
    assert (f.rows_rejected, rejected(con)[0][:3]) == (1, (3, None, "blank line"))


def test_line_numbers_stay_exact_across_many_row_groups(project: Path, con):
    # > 2 DuckDB row groups, read in parallel: every row's value says which line it is on
    lines = [b"k,v\n"]
    for n in range(2, 300_002):
        if n == 150_000:
            lines.append(b"\n")
        elif n == 250_000:
            lines.append(b"bad,row,here\n")
        else:
            lines.append(b"k,%d\n" % n)
    (project / "data.csv").write_bytes(b"".join(lines))
    f = load(con, table_source(), project).files[0]
    assert (f.source_records, f.rows_loaded, f.rows_rejected) == (300_000, 299_998, 2)
    assert rows(con, "SELECT count(*) FILTER (WHERE v <> source_row), count(*) FROM raw.t") == [(0, 299_998)]
    assert [line for line, *_ in rejected(con)] == [150_000, 250_000]


# --- failures stay with their file --------------------------------------------------------------------------------


def test_each_file_is_its_own_transaction(project: Path, con):
    drop = project / "drop"
    drop.mkdir()
    (drop / "1.csv").write_bytes(b"k,v\na,1\n")
    (drop / "2.csv").write_bytes(b"k,value\nb,2\n")  # renamed column
    (drop / "3.csv").write_bytes(b"k,v\nc,3\n")
    result = load(con, csv_source(path="drop/*.csv", layout="table", table="t", columns=KV), project)
    assert [f.status for f in result.files] == ["loaded", "failed", "loaded"]
    assert (result.files_seen, result.files_loaded, result.files_failed, result.rows_loaded) == (3, 2, 1, 2)
    assert not result.ok
    assert "drop/2.csv: line 1: header does not match the declared columns (missing ['v']; unexpected ['value'])" in (
        result.files[1].message
    )
    assert rows(con, "SELECT k FROM raw.t ORDER BY k") == [("a",), ("c",)]
    assert rows(con, "SELECT source_file, status FROM raw.file_loads ORDER BY source_file") == [
        ("drop/1.csv", "loaded"),
        ("drop/2.csv", "failed"),
        ("drop/3.csv", "loaded"),
    ]


def test_header_in_another_order_is_named(project: Path, con):
    (project / "data.csv").write_bytes(b"v,k\n1,a\n")
    f = load(con, table_source(), project).files[0]
    assert f.status == "failed"
    assert "same names in another order" in f.message and "expected ['k', 'v'], found ['v', 'k']" in f.message


def test_all_records_rejected_fails_and_keeps_the_previous_version(project: Path, con):
    path = project / "data.csv"
    path.write_bytes(b"k,v\na,1\n")
    load(con, table_source(), project, "L1")
    path.write_bytes(b"k,v\na,one\nb,two\n")
    f = load(con, table_source(), project, "L2").files[0]
    assert f.status == "failed"
    assert f.message.startswith("data.csv: all 2 records rejected (earlier data kept): line 2 v: not a number")
    assert loaded(con) == [("a", 1.0, 2)]
    assert rows(con, "SELECT count(*) FROM raw.rejects") == [(0,)]


def test_undecodable_byte_fails_naming_offset_and_line(project: Path, con):
    (project / "data.csv").write_bytes(b"k,v\na,1\nb\x81,2\n")  # 0x81 is undefined in cp1252
    f = load(con, table_source(dialect={"encoding": "cp1252"}), project).files[0]
    assert f.status == "failed"
    assert "data.csv: byte offset 9 (line 3): bytes 81 are not valid cp1252" in f.message


def test_invalid_utf8_line_is_rejected_with_its_line(project: Path, con):
    (project / "data.csv").write_bytes(b"k,v\na,1\nb\xff,2\nc,3\n")
    f = load(con, table_source(), project).files[0]
    assert (f.rows_loaded, f.rows_rejected) == (2, 1)
    assert rejected(con)[0][0] == 3 and "invalid encoding" in rejected(con)[0][2]


def test_utf16_and_cp1250_are_transcoded_exactly(project: Path, con):
    text = "k,v\nzażółć,1\nŁódź,2\n"
    (project / "a.csv").write_bytes(text.encode("utf-16"))
    (project / "b.csv").write_bytes(text.encode("cp1250"))
    for name, encoding in (("a", "utf-16"), ("b", "cp1250")):
        source = csv_source(name=name, path=f"{name}.csv", layout="table", columns=KV, dialect={"encoding": encoding})
        assert load(con, source, project).files[0].status == "loaded"
        assert rows(con, f"SELECT k FROM raw.{name} ORDER BY source_row") == [("zażółć",), ("Łódź",)]


def test_names_with_quotes_and_semicolons_inject_nothing(project: Path, con):
    name = 'we\'ird; "name" DROP TABLE raw.t.csv'
    (project / name).write_bytes(b'"kpi id","value; \'q\'"\nK-1,5\n')
    source = csv_source(
        path="we*.csv", layout="table", table="t", columns={"kpi id": "varchar", "value; 'q'": "double"}
    )
    result = load(con, source, project)
    assert result.files[0].status == "loaded"
    assert rows(con, "SELECT kpi_id, value_q, source_file FROM raw.t") == [("K-1", 5.0, name)]
    load(con, source, project, "L2")  # the unchanged check finds the file by its odd name
    assert rows(con, "SELECT status FROM raw.file_loads ORDER BY loaded_at, rowid") == [("loaded",), ("unchanged",)]


# --- idempotency --------------------------------------------------------------------------------------------------


def test_changed_definition_rereads_an_unchanged_file(project: Path, con):
    (project / "data.csv").write_bytes(b"k,v\na,1 234\n")
    first = load(con, table_source(), project, "L1").files[0]
    assert first.status == "failed"  # '1 234' is no number without a thousands separator
    second = load(con, table_source(dialect={"thousands": " "}), project, "L2").files[0]
    assert (second.status, loaded(con)) == ("loaded", [("a", 1234.0, 2)])
    third = load(con, table_source(dialect={"thousands": " "}), project, "L3").files[0]
    assert third.status == "unchanged"
    assert rows(con, "SELECT count(DISTINCT config_hash) FROM raw.file_loads WHERE status <> 'failed'") == [(1,)]
    assert LOADER_VERSION  # part of the config hash: a loader change re-reads files


def test_no_matching_file_is_reported(project: Path, con):
    result = load(con, csv_source(path="nothing/*.csv", layout="table", columns=KV), project)
    assert (result.files_seen, result.ok, result.messages) == (0, False, ["no file matches 'nothing/*.csv'"])


def test_absolute_glob_and_file_outside_the_project(project: Path, tmp_path: Path, con):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.csv").write_bytes(b"k,v\na,1\n")
    source = csv_source(path=str(outside / "*.csv"), layout="table", table="t", columns=KV)
    assert source_files(source, project) == [outside / "x.csv"]
    load(con, source, project)
    assert rows(con, "SELECT source_file FROM raw.t") == [((outside / "x.csv").as_posix(),)]


def test_table_whose_column_type_changed_is_refused(project: Path, con):
    (project / "data.csv").write_bytes(b"k,v\na,1\n")
    load(con, table_source(), project)
    with pytest.raises(RawSchemaError, match=r"raw\.t\.v is DOUBLE in the warehouse but declared BIGINT"):
        load(
            con,
            csv_source(path="data.csv", layout="table", table="t", columns={"k": "varchar", "v": "integer"}),
            project,
        )


# --- layouts and types --------------------------------------------------------------------------------------------


def test_long_layout_with_dimension_year_month_and_target(project: Path, con):
    (project / "m.csv").write_bytes(
        b"metric,year,month,region,actual,target\n"
        b"otp,2024,1,EU,0.81,0.8\n"
        b"otp,2024,1,,0.79,0.8\n"  # no region: the all-regions row
        b"otp,2024,13,EU,0.5,0.8\n"  # month 13
        b",2024,2,EU,0.7,\n"  # no metric name
    )
    source = csv_source(
        path="m.csv", layout="long",
        columns={"metric": "varchar", "year": "integer", "month": "integer", "region": "varchar",
                 "actual": "double", "target": "double"},
        date={"year": "year", "month": "month"}, metric_column="metric", value_column="actual",
        target_column="target", dimension_column="region",
    )  # fmt: skip
    f = load(con, source, project).files[0]
    assert rows(con, "SELECT metric_name, period_date, dimension, value, target_value FROM raw.metric_values") == [
        ("otp", dt.date(2024, 1, 1), "EU", 0.81, 0.8),
        ("otp", dt.date(2024, 1, 1), "*", 0.79, 0.8),
    ]
    assert [(line, field, reason) for line, field, reason, _ in rejected(con)] == [
        (4, "year,month", "period date missing or invalid"),
        (5, "metric", "metric name missing"),
    ]
    assert f.rows_rejected == 2


def test_wide_layout_by_date_skips_empty_cells(project: Path, con):
    (project / "w.csv").write_bytes(b"day,revenue,cost\n2024-05-01,10,4\n2024-05-02,,#DIV/0!\n")
    source = csv_source(
        path="w.csv", layout="wide", columns={"day": "date", "revenue": "double", "cost": "double"},
        date={"column": "day"}, metric_columns={"revenue_eur": "revenue", "cost_eur": "cost"},
    )  # fmt: skip
    f = load(con, source, project).files[0]
    assert (f.rows_loaded, f.values_written, f.formula_errors) == (2, 2, 1)
    assert rows(con, "SELECT metric_name, period_date, value FROM raw.metric_values ORDER BY 1") == [
        ("cost_eur", dt.date(2024, 5, 1), 4.0),
        ("revenue_eur", dt.date(2024, 5, 1), 10.0),
    ]
    assert rows(con, "SELECT line_number, field, error_value FROM raw.formula_errors") == [(3, "cost", "#DIV/0!")]


def test_types_boolean_timestamp_integer(project: Path, con):
    (project / "t.csv").write_bytes(
        b"flag,at,n\n"
        b"yes,2013-01-01T10:00:00Z,1\n"
        b"N,2013-01-01 10:00:00+02:00,-2\n"
        b"true,2013-01-01 10:00,99999999999999999999\n"  # integer overflow
        b"maybe,2013-13-01,0x10\n"
    )
    source = csv_source(
        path="t.csv", layout="table", table="types", columns={"flag": "boolean", "at": "timestamp", "n": "integer"}
    )
    load(con, source, project)
    assert rows(con, 'SELECT flag, "at", n FROM raw.types ORDER BY source_row') == [
        (True, dt.datetime(2013, 1, 1, 10, 0), 1),
        (False, dt.datetime(2013, 1, 1, 8, 0), -2),  # converted to UTC
    ]
    assert [(line, field) for line, field, *_ in rejected(con)] == [(4, "n"), (5, "at"), (5, "flag"), (5, "n")]


def test_timestamp_format_with_offset_is_stored_in_utc(project: Path, con):
    (project / "t.csv").write_bytes(b"at\n01.02.2024 10:00 +0100\n")
    source = csv_source(
        path="t.csv", layout="table", table="ts", columns={"at": "timestamp"},
        dialect={"timestamp_format": "%d.%m.%Y %H:%M %z"},
    )  # fmt: skip
    load(con, source, project)
    assert rows(con, 'SELECT "at" FROM raw.ts') == [(dt.datetime(2024, 2, 1, 9, 0),)]


def test_a_wrong_delimiter_fails_the_file_with_every_line_accounted_for(project: Path, con):
    lines = b"".join(b"k%d;%d\n" % (i, i) for i in range(50_000))
    (project / "data.csv").write_bytes(b"k;v\n" + lines)
    f = load(con, table_source(), project).files[0]  # declared ',' but the file uses ';'
    assert f.status == "failed"
    assert "header does not match" in f.message and "found ['k;v']" in f.message


@pytest.mark.parametrize("delimiter", [":", "-", "x", "\x1f"])
def test_any_delimiter_reads_its_file(project: Path, con, delimiter: str):
    # DuckDB refuses a null placeholder containing the delimiter: ':' crashed every file of such a source
    d = delimiter.encode()
    (project / "data.csv").write_bytes(b"k" + d + b"v\n" + b'"a' + d + b'b"' + d + b"1\n" + d + b"2\n")
    f = load(con, table_source(dialect={"delimiter": delimiter}), project).files[0]
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 2, 0), f.message
    assert loaded(con) == [(f"a{delimiter}b", 1.0, 2), (None, 2.0, 3)]


def test_every_line_with_a_trailing_delimiter_still_loads(project: Path, con):
    lines = b"".join(b"k%d,%d,\n" % (i, i) for i in range(50_000))
    (project / "data.csv").write_bytes(b"k,v\n" + lines)
    f = load(con, table_source(), project).files[0]
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 50_000, 0)
    assert rows(con, "SELECT count(*) FILTER (WHERE v + 2 <> source_row) FROM raw.t") == [(0,)]


def test_every_line_missing_a_field_is_rejected_in_bulk(project: Path, con):
    lines = b"".join(b"k%d\n" % i for i in range(50_000))
    (project / "data.csv").write_bytes(b"k,v\n" + b"a,1\n" + lines)
    f = load(con, table_source(), project).files[0]
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 1, 50_000)
    assert rows(con, "SELECT min(line_number), max(line_number), min(field) FROM raw.rejects") == [(3, 50_002, "v")]
