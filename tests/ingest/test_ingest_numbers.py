"""Numbers are exact or rejected: the loader against the reference grammar, on generated text.

The loader checks numbers with cheap ``contains`` tests on top of DuckDB's casts (see ``ingest.csv_loader._Parser``),
relying on what DuckDB 2.0 accepts beyond the grammar. This property test is the guard: any text DuckDB (now or
after an upgrade) parses differently from the grammar below makes it fail.
"""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ingest_testkit import csv_source, load, rows

BLANKS = " \t"
ALPHABET = "0123456789.,+-eE_xXbBinfa \t"
ERRORS = ["#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#NV", "#NULL!"]

US_DOUBLE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
INTEGER = re.compile(r"[+-]?\d+")
EU_DOUBLE = re.compile(r"[+-]?(\d+(,\d*)?|,\d+)([eE][+-]?\d+)?")
EU_GROUPED = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?")


def reference(text: str, kind: str, eu: bool) -> tuple[str, float | int | None]:
    """('null', None) | ('value', number) | ('reject', None) by the documented rules."""
    if text == "" or text in ERRORS:
        return "null", None
    core = text.strip(BLANKS)
    if kind == "integer":
        if INTEGER.fullmatch(core) and -(2**63) <= int(core) < 2**63:
            return "value", int(core)
        return "reject", None
    if eu:
        if EU_DOUBLE.fullmatch(core) or EU_GROUPED.fullmatch(core):
            number = float(core.replace(".", "").replace(",", "."))
            return ("value", number) if math.isfinite(number) else ("reject", None)
        return "reject", None
    if US_DOUBLE.fullmatch(core):
        number = float(core)
        return ("value", number) if math.isfinite(number) else ("reject", None)
    return "reject", None


def check(values: list[str], kind: str, eu: bool, project: Path) -> None:
    if project.exists():
        shutil.rmtree(project)
    project.mkdir()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if eu else ",", quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(["k", "v"])
    writer.writerow(["anchor", "1"])  # one valid row: a file with every record rejected fails as a whole
    writer.writerows([str(i), v] for i, v in enumerate(values))
    (project / "n.csv").write_text(out.getvalue(), encoding="utf-8")
    dialect = {"delimiter": ";", "decimal": ",", "thousands": "."} if eu else {}
    source = csv_source(path="n.csv", layout="table", table="n", columns={"k": "varchar", "v": kind}, dialect=dialect)
    con = duckdb.connect(str(project / "w.duckdb"))
    try:
        result = load(con, source, project).files[0]
        assert result.status == "loaded", result.message
        got = dict(rows(con, "SELECT k, v FROM raw.n WHERE k <> 'anchor'"))
        bad = {k for (k,) in rows(con, "SELECT split_part(raw_line, ?, 1) FROM raw.rejects", [";" if eu else ","])}
    finally:
        con.close()
    for i, text in enumerate(values):
        verdict, number = reference(text, kind, eu)
        key = f'"{i}"' if f'"{i}"' in bad else str(i)
        if verdict == "reject":
            assert key in bad, f"{text!r} ({kind}) should be rejected, loaded as {got.get(str(i))!r}"
        else:
            assert key not in bad, f"{text!r} ({kind}) should load as {number!r}, was rejected"
            assert got[str(i)] == number, f"{text!r} ({kind}) loaded as {got[str(i)]!r}, expected {number!r}"


values = st.lists(st.text(alphabet=ALPHABET, max_size=7) | st.sampled_from(ERRORS), min_size=1, max_size=200)
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(values=values)
@example(values=["12.75", "0042", "1_000", "+-5", "inf", "nan", "1e400", " 7 ", "\t8", "1.", ".5", "0x10", "1e3", ""])
def test_doubles_match_the_grammar(values: list[str], tmp_path: Path):
    check(values, "double", eu=False, project=tmp_path / "p")


@SETTINGS
@given(values=values)
@example(values=["12.75", "0042", "1_000", "1e3", "0x10", "0b101", "+7", "-0", "99999999999999999999", " 3 "])
def test_integers_match_the_grammar(values: list[str], tmp_path: Path):
    check(values, "integer", eu=False, project=tmp_path / "p")


@SETTINGS
@given(values=values)
@example(values=["1.234.567,89", "1,234", "1 234,50", "12.34", "1.2345", ",5", "1.234,", "1e3", "1_000"])
def test_european_doubles_match_the_grammar(values: list[str], tmp_path: Path):
    check(values, "double", eu=True, project=tmp_path / "p")
