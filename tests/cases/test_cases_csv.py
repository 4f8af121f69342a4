"""Regression tests for the CSV cases of ``../shared/cases`` (README: B01-B14, B30), through the real loader.

Each test loads the case input, byte-exact, with a declared source into a real DuckDB file and asserts the correct
answer the cases README states. Values are compared exactly: a rounded or guessed value must fail the test.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from cases_testkit import deliver, load_one, rows
from pydantic import ValidationError

from ingest.csv_loader import load_csv_source, normalize_header_name
from kpi_alignment.sources import CsvSource

pytestmark = pytest.mark.realdata

KPI_PERIOD_VALUE = {"kpi_id": "varchar", "period": "varchar", "value": "double"}


def rejects(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return rows(con, "SELECT line_number, field, reason, raw_line FROM raw.rejects ORDER BY line_number, field")


def test_b01_bom_and_quotes_are_stripped_from_the_header(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    deliver(cases / "B01_bom-quoted-header.csv", project)
    result = load_one(
        con, project, path="B01*.csv", layout="table", table="kpis", columns=KPI_PERIOD_VALUE
    )  # declared names match only once BOM and quotes are gone
    assert result.status == "loaded", result.message
    columns = [c for (c,) in rows(con, "SELECT column_name FROM information_schema.columns WHERE table_name = 'kpis'")]
    assert columns[:3] == ["kpi_id", "period", "value"]
    assert rows(con, "SELECT kpi_id, period, value FROM raw.kpis ORDER BY source_row") == [
        ("K-001", "2024-05", 10.5),
        ("K-002", "2024-05", 7.0),
    ]
    assert normalize_header_name('\ufeff"kpi_id"') == "kpi_id"  # the pandas sniffing path's first name
    assert normalize_header_name(' "value" ') == "value"


def test_b01_bom_under_a_declared_single_byte_encoding_fails_instead_of_mojibake(
    cases: Path, project: Path, con: duckdb.DuckDBPyConnection
):
    deliver(cases / "B01_bom-quoted-header.csv", project)
    result = load_one(
        con, project, path="B01*.csv", layout="table", table="kpis", columns=KPI_PERIOD_VALUE,
        dialect={"encoding": "cp1252"},
    )  # fmt: skip
    assert result.status == "failed"
    assert "UTF-8 byte-order mark" in result.message and "cp1252" in result.message


def test_b02_cp1250_semicolon_decimal_comma_footer(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    deliver(cases / "B02_nbp-style-cp1250-semicolon.csv", project)
    result = load_one(
        con, project, path="B02*.csv", layout="table", table="rates",
        columns={"data": "date", "kod": "varchar", "nazwa": "varchar", "kurs": "double"},
        dialect={"encoding": "cp1250", "delimiter": ";", "decimal": ",", "date_format": "%Y%m%d"},
    )  # fmt: skip
    assert (result.status, result.source_records, result.rows_loaded, result.rows_rejected) == ("loaded", 5, 3, 2)
    assert rows(con, "SELECT data, kod, nazwa, kurs FROM raw.rates ORDER BY source_row") == [
        (dt.date(2024, 1, 2), "USD", "dolar amerykański", 3.9432),
        (dt.date(2024, 1, 3), "EUR", "euro", 4.348),
        (dt.date(2024, 1, 4), "CHF", "frank szwajcarski", 4.6621),
    ]
    assert rejects(con) == [
        (5, None, "blank line", ""),
        (6, "data", "not a date in format %Y%m%d: data", "data;kod;opis;"),
    ]


US = {"delimiter": ",", "decimal": ".", "thousands": ","}
EU = {"delimiter": ";", "decimal": ",", "thousands": "."}


@pytest.mark.parametrize(
    ("case", "dialect", "loaded", "rejected"),
    [
        # the US file as a US source: quoted grouped numbers parse exactly
        ("B04_thousands-us-quoted.csv", US, {"K-001": 1234567.89, "K-002": 980.0, "K-003": 1234.0}, {}),
        # the EU file as an EU source: 1,234 is 1.234; a space-grouped value fits no declared rule
        ("B04_decimal-eu-semicolon.csv", EU, {"K-001": 1234567.89, "K-002": 980.0, "K-003": 1.234}, {5: "1 234,50"}),
        # the EU file under the wrong locale (';' kept, US separators): grouped EU values are rejected, but
        # 1,234 reads as 1234 - a factor 1000 from one plausible misconfiguration (why locale is declared)
        (
            "B04_decimal-eu-semicolon.csv",
            {**US, "delimiter": ";"},
            {"K-002": 980.0, "K-003": 1234.0},
            {2: "1.234.567,89", 5: "1 234,50"},
        ),
        # the EU file with a space thousands separator: only the space-grouped value is a grouped number
        (
            "B04_decimal-eu-semicolon.csv",
            {**EU, "thousands": " "},
            {"K-002": 980.0, "K-003": 1.234, "K-004": 1234.5},
            {2: "1.234.567,89"},
        ),
    ],
)
def test_b04_separators_are_source_configuration(
    cases: Path, project: Path, con: duckdb.DuckDBPyConnection, case: str, dialect: dict, loaded: dict, rejected: dict
):
    deliver(cases / case, project)
    result = load_one(
        con, project, path=case, layout="table", table="kpi_values",
        columns={"kpi_id": "varchar", "value": "double"}, dialect=dialect,
    )  # fmt: skip
    assert result.status == "loaded", result.message
    assert dict(rows(con, "SELECT kpi_id, value FROM raw.kpi_values")) == loaded
    assert {line: raw.split(dialect["delimiter"])[1] for line, _, _, raw in rejects(con)} == rejected
    assert all(field == "value" and reason.startswith("not a number") for _, field, reason, _ in rejects(con))


def test_b04_us_file_cannot_be_declared_with_a_decimal_comma():
    with pytest.raises(ValidationError, match="decimal separator equals the delimiter"):
        CsvSource.model_validate(
            {"name": "x", "path": "x.csv", "layout": "table", "columns": {"v": "double"}, "dialect": {"decimal": ","}}
        )


def _late_rows(con: duckdb.DuckDBPyConnection) -> dict[str, float | None]:
    return dict(rows(con, "SELECT kpi_id, value FROM raw.kpi_values WHERE kpi_id LIKE 'K-LATE%'"))


@pytest.mark.parametrize("big", [False, True], ids=["as-delivered", "late-rows-beyond-20480-lines"])
def test_b05_late_decimal_is_exact_and_late_oddities_are_rejected(
    cases: Path, project: Path, con: duckdb.DuckDBPyConnection, big: bool
):
    source = cases / "B05_late-decimal-beyond-sample.csv"
    lines = source.read_bytes().splitlines(keepends=True)
    if big:  # as a big file would be: the late rows after DuckDB's default sniffing sample (20,480 lines)
        body = [line for line in lines[1:] if line.startswith(b"K-0") or line.startswith(b"K-1")]
        filler = [f"K-F{i:05d},{i}\n".encode() for i in range(30_000)]
        late = [line for line in lines if line.startswith(b"K-LATE")]
        (project / "late.csv").write_bytes(b"".join([lines[0], *body, *filler, *late]))
    else:
        deliver(source, project, "late.csv")
    total = sum(1 for _ in (project / "late.csv").open("rb")) - 1
    result = load_one(
        con, project, path="late.csv", layout="table", table="kpi_values",
        columns={"kpi_id": "varchar", "value": "double"},
    )  # fmt: skip
    assert _late_rows(con) == {"K-LATE1": 12.75, "K-LATE2": 42.0}  # 12.75 not 13; 0042 is exactly 42
    assert [(field, raw) for _, field, _, raw in rejects(con)] == [("value", "K-LATE3,1_000")]
    assert (result.source_records, result.rows_loaded, result.rows_rejected) == (total, total - 1, 1)


def test_b05_integer_column_never_rounds(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    deliver(cases / "B05_late-decimal-beyond-sample.csv", project)
    result = load_one(
        con, project, path="B05*.csv", layout="table", table="kpi_values",
        columns={"kpi_id": "varchar", "value": "integer"},
    )  # fmt: skip
    assert _late_rows(con) == {"K-LATE2": 42}
    assert [(line, raw) for line, _, _, raw in rejects(con)] == [(2049, "K-LATE1,12.75"), (2051, "K-LATE3,1_000")]
    assert all("not an integer (no rounding" in reason for _, _, reason, _ in rejects(con))
    assert result.rows_loaded + result.rows_rejected == result.source_records == 2050


def test_b05_late_text_is_a_reported_reject_not_a_vanished_row(
    cases: Path, project: Path, con: duckdb.DuckDBPyConnection
):
    deliver(cases / "B05_late-text-beyond-sample.csv", project)
    result = load_one(
        con, project, path="B05*.csv", layout="table", table="kpi_values",
        columns={"kpi_id": "varchar", "value": "double"},
    )  # fmt: skip
    assert (result.source_records, result.rows_loaded, result.rows_rejected) == (2048, 2047, 1)
    assert rejects(con) == [(2049, "value", "not a number (decimal '.', no thousands separator): n/a", "K-LATE4,n/a")]


def test_b06_ragged_row_is_quarantined_and_the_rest_load(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    deliver(cases / "B06_extra-field-midfile.csv", project)
    result = load_one(
        con, project, path="B06*.csv", layout="table", table="kpi_values",
        columns={"kpi_id": "varchar", "value": "double"},
    )  # fmt: skip
    # header from line 1 as configured; K-005's trailing comma is an empty extra field and loads
    assert rows(con, "SELECT kpi_id, value, source_row FROM raw.kpi_values ORDER BY source_row") == [
        ("K-001", 10.0, 2),
        ("K-002", 20.0, 3),
        ("K-003", 30.0, 4),
        ("K-005", 50.0, 6),
    ]
    assert rejects(con) == [(5, None, "too many columns: Expected Number of Columns: 2 Found: 3", "K-004,40,restated")]
    assert (result.source_records, result.rows_loaded, result.rows_rejected) == (5, 4, 1)


def test_b06_three_lines_as_declared_keeps_the_semicolon_text(
    cases: Path, project: Path, con: duckdb.DuckDBPyConnection
):
    deliver(cases / "B06_three-lines.csv", project)
    result = load_one(con, project, path="B06*.csv", layout="table", table="names", columns={"kpi_name": "varchar"})
    assert result.status == "loaded"
    assert rows(con, "SELECT kpi_name FROM raw.names ORDER BY source_row") == [("Revenue",), ("Cost;per unit",)]


def test_b06_three_lines_in_a_two_column_source_fails_and_keeps_history(
    cases: Path, project: Path, con: duckdb.DuckDBPyConnection
):
    deliver(cases / "B06_extra-field-midfile.csv", project, "drop/a.csv")
    deliver(cases / "B06_three-lines.csv", project, "drop/b.csv")
    source = CsvSource.model_validate(
        {"name": "case", "path": "drop/*.csv", "layout": "table", "table": "kpi_values",
         "columns": {"kpi_id": "varchar", "value": "double"}}
    )  # fmt: skip
    result = load_csv_source(con, source, project, "L1")
    good, bad = result.files
    assert (good.status, bad.status) == ("loaded", "failed")
    assert "drop/b.csv: line 1: header does not match" in bad.message
    assert "expected ['kpi_id', 'value'], found ['kpi_name']" in bad.message
    assert rows(con, "SELECT count(*) FROM raw.kpi_values") == [(4,)]
    assert rows(con, "SELECT status, message FROM raw.file_loads WHERE source_file = 'drop/b.csv'") == [
        ("failed", bad.message)
    ]


STATUS_COLUMNS = {"ts": "date", "kpi_id": "varchar", "value": "double", "status": "varchar"}


def test_b07_unquoted_comma_goes_to_rejects_with_its_raw_line(
    cases: Path, project: Path, con: duckdb.DuckDBPyConnection
):
    deliver(cases / "B07_unquoted-comma-in-status.csv", project)
    result = load_one(con, project, path="B07*.csv", layout="table", table="statuses", columns=STATUS_COLUMNS)
    assert rows(con, "SELECT ts, value, status FROM raw.statuses ORDER BY source_row") == [
        (dt.date(2024, 5, 20), 20.0, "ok"),
        (dt.date(2024, 5, 22), 22.0, "ok"),
    ]
    # the 2024-05-21 value is not silently missing: it is a reject with its line
    assert rejects(con) == [
        (
            3,
            None,
            "too many columns: Expected Number of Columns: 4 Found: 5",
            "2024-05-21,K-001,21,warn: late, recomputed",
        )
    ]
    assert "1 rejected (line 3: too many columns" in result.message


def test_b07_missing_declared_column_fails_the_file_fast(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    deliver(cases / "B07_unquoted-comma-in-status.csv", project)
    columns = {k: v for k, v in STATUS_COLUMNS.items() if k != "status"}
    result = load_one(con, project, path="B07*.csv", layout="table", table="statuses", columns=columns)
    assert result.status == "failed"
    assert "unexpected ['status']" in result.message


def _kpi_file(project: Path, name: str, body: bytes) -> None:
    (project / name).write_bytes(b"kpi_id,period,value\n" + body)


def test_b09_zero_byte_delivery_fails_and_keeps_history(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    fields = dict(path="kpis.csv", layout="table", table="kpis", columns=KPI_PERIOD_VALUE)
    _kpi_file(project, "kpis.csv", b"K-1,2024-05,1\n")
    assert load_one(con, project, **fields).status == "loaded"
    deliver(cases / "B09_zero-byte.csv", project, "kpis.csv")
    result = load_one(con, project, "L2", **fields)
    assert result.status == "failed"
    assert "zero-byte file: delivery missing or corrupt" in result.message
    assert rows(con, "SELECT kpi_id, load_id FROM raw.kpis") == [("K-1", "L1")]


def test_b09_header_only_is_valid_empty_and_keeps_history(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    fields = dict(path="kpis.csv", layout="table", table="kpis", columns=KPI_PERIOD_VALUE)
    _kpi_file(project, "kpis.csv", b"K-1,2024-05,1\n")
    assert load_one(con, project, **fields).status == "loaded"
    deliver(cases / "B09_header-only.csv", project, "kpis.csv")
    result = load_one(con, project, "L2", **fields)
    assert (result.status, result.source_records, result.rows_loaded) == ("empty", 0, 0)
    assert rows(con, "SELECT kpi_id, load_id FROM raw.kpis") == [("K-1", "L1")]


def test_b09_header_only_with_wrong_columns_is_still_checked(
    cases: Path, project: Path, con: duckdb.DuckDBPyConnection
):
    deliver(cases / "B09_header-only.csv", project)
    result = load_one(
        con, project, path="B09_header*.csv", layout="table", table="t", columns={"kpi_id": "varchar", "v": "double"}
    )
    assert result.status == "failed" and "missing ['v']" in result.message


def _load_dates(cases: Path, tmp: Path, order: list[str]) -> list[tuple[object, ...]]:
    formats = {"us": "%m/%d/%Y", "eu": "%d/%m/%Y"}
    project = tmp / "-".join(order)
    project.mkdir()
    con = duckdb.connect(str(project / "w.duckdb"))
    try:
        for region in order:  # each file is its own source with its own declared format
            deliver(cases / f"B11_{region}-dates.csv", project)
            load_one(
                con, project, name=f"dates_{region}", path=f"B11_{region}-dates.csv", layout="long",
                columns={"kpi_id": "varchar", "period_end": "varchar", "value": "double"},
                date={"column": "period_end", "format": formats[region]}, metric_column="kpi_id", value_column="value",
            )  # fmt: skip
        return rows(con, "SELECT metric_name, period_date, value FROM raw.metric_values ORDER BY 1, 2")
    finally:
        con.close()


def test_b11_declared_date_formats_give_the_same_dates_in_either_order(cases: Path, tmp_path: Path):
    expected = [
        ("K-001", dt.date(2024, 12, 13), 10.0),
        ("K-001", dt.date(2025, 1, 31), 11.0),
        ("K-002", dt.date(2025, 2, 1), 11.0),
        ("K-002", dt.date(2025, 4, 3), 12.0),
    ]
    assert _load_dates(cases, tmp_path, ["us", "eu"]) == expected
    assert _load_dates(cases, tmp_path, ["eu", "us"]) == expected


def test_b11_dates_not_matching_the_format_are_rejected_never_guessed(
    cases: Path, project: Path, con: duckdb.DuckDBPyConnection
):
    deliver(cases / "B11_us-dates.csv", project)
    result = load_one(
        con, project, path="B11*.csv", layout="long",
        columns={"kpi_id": "varchar", "period_end": "date", "value": "double"},
        date={"column": "period_end", "format": "%d/%m/%Y"}, metric_column="kpi_id", value_column="value",
    )  # fmt: skip
    # 12/13/2024 and 01/31/2025 have no month 13 or 31: both rejected, so the file fails and loads nothing
    assert result.status == "failed"
    assert "all 2 records rejected" in result.message
    assert "line 2 period_end: not a date in format %d/%m/%Y: 12/13/2024" in result.message
    assert "line 3 period_end: not a date in format %d/%m/%Y: 01/31/2025" in result.message
    assert rows(con, "SELECT count(*) FROM raw.metric_values") == [(0,)]


B13_NULLS = ["", "N/A", "-", "NULL", "n.a."]


def test_b13_null_tokens_and_formula_errors_are_told_apart(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    deliver(cases / "B13_null-tokens.csv", project)
    result = load_one(
        con, project, path="B13*.csv", layout="table", table="kpi_values",
        columns={"kpi_id": "varchar", "value": "double"}, dialect={"null_values": B13_NULLS},
    )  # fmt: skip
    assert (result.rows_loaded, result.rows_rejected, result.formula_errors) == (10, 0, 4)
    assert rows(
        con,
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'kpi_values' AND column_name = 'value'",
    ) == [("DOUBLE",)]
    values = dict(rows(con, "SELECT kpi_id, value FROM raw.kpi_values"))
    assert values.pop("K-001") == 10.0 and set(values.values()) == {None}
    assert rows(con, "SELECT line_number, field, error_value FROM raw.formula_errors ORDER BY 1") == [
        (5, "value", "#N/A"),
        (6, "value", "#NV"),
        (10, "value", "#DIV/0!"),
        (11, "value", "#VALUE!"),
    ]
    assert rows(con, "SELECT formula_errors FROM raw.file_loads") == [(4,)]


def test_b13_undeclared_tokens_are_rejects_not_silent_nulls(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    deliver(cases / "B13_null-tokens.csv", project)
    result = load_one(
        con, project, path="B13*.csv", layout="table", table="kpi_values",
        columns={"kpi_id": "varchar", "value": "double"},
    )  # fmt: skip
    assert sorted(raw for _, _, _, raw in rejects(con)) == ["K-002,N/A", "K-003,-", "K-006,NULL", "K-008,n.a."]
    assert (result.rows_loaded, result.formula_errors) == (6, 4)


def test_b14_codes_keep_their_leading_zeros(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    deliver(cases / "B14_leading-zero-codes.csv", project)
    load_one(
        con, project, path="B14*.csv", layout="table", table="codes",
        columns={"objective_code": "varchar", "kpi_code": "varchar", "value": "integer"},
    )  # fmt: skip
    codes = rows(con, "SELECT objective_code, kpi_code, value FROM raw.codes ORDER BY source_row")
    assert codes == [("0070", "00123", 1), ("0071", "00124", 2), ("0100", "01000", 3)]
    assert all(len(o) == 4 and len(k) == 5 and o.isdigit() and k.isdigit() for o, k, _ in codes)


B30 = dict(
    path="B30*.csv", layout="long", columns={"kpi_id": "varchar", "period": "varchar", "value": "double"},
    date={"column": "period", "format": "%Y-%m"}, metric_column="kpi_id", value_column="value",
)  # fmt: skip


def _tables(con: duckdb.DuckDBPyConnection) -> tuple[list[tuple[object, ...]], ...]:
    return (
        rows(con, "SELECT * FROM raw.metric_values ORDER BY source_row"),
        rows(con, "SELECT * FROM raw.rejects ORDER BY line_number"),
    )


def test_b30_loading_the_same_file_again_changes_nothing(cases: Path, project: Path, con: duckdb.DuckDBPyConnection):
    deliver(cases / "B30_same-file-twice.csv", project)
    first = load_one(con, project, "L1", **B30)
    after_first = _tables(con)
    second = load_one(con, project, "L2", **B30)
    third = load_one(con, project, "L3", **B30)
    assert (first.status, second.status, third.status) == ("loaded", "unchanged", "unchanged")
    assert _tables(con) == after_first
    assert rows(con, "SELECT metric_name, period_date, value FROM raw.metric_values ORDER BY 1") == [
        ("K-301", dt.date(2024, 5, 1), 10.0),
        ("K-302", dt.date(2024, 5, 1), 20.0),
    ]
    # the file's own repeated row is loaded once and reported
    assert rows(con, "SELECT line_number, reason FROM raw.rejects") == [(4, "duplicate row (same as line 3)")]
    assert first.duplicates == 1


def test_b30_a_corrected_file_replaces_its_rows_instead_of_adding(
    cases: Path, project: Path, con: duckdb.DuckDBPyConnection
):
    path = deliver(cases / "B30_same-file-twice.csv", project)
    load_one(con, project, "L1", **B30)
    path.write_bytes(path.read_bytes().replace(b"K-301,2024-05,10", b"K-301,2024-05,11"))
    result = load_one(con, project, "L2", **B30)
    assert result.status == "replaced"
    assert rows(con, "SELECT metric_name, value, load_id FROM raw.metric_values ORDER BY 1") == [
        ("K-301", 11.0, "L2"),
        ("K-302", 20.0, "L2"),
    ]
    assert rows(con, "SELECT count(*), min(load_id) FROM raw.rejects") == [(1, "L2")]
