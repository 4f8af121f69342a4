"""Bad input: one bad source fails its own check while the run completes and says what was skipped (end to end), and
property-based mutation of valid CSV files and API pages: never an unhandled exception, and every loaded value is
the value in the input (or the row is quarantined / the load refused with a clear error)."""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import json
import logging
import math
import re
import tempfile
from collections import Counter
from pathlib import Path

import duckdb
import pytest
import scenarios as sc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_kit import Loopback, query, run_id_from, steps_started

from ingest.api_loader import ApiLoadError, load_api_source
from ingest.csv_loader import load_csv_source
from kpi_alignment.sources import CsvSource
from kpi_alignment.sources_api import ApiSource

# --- end to end: the messy project (scenarios.write_messy_project) ------------------------------------------------

BAD = {
    "ops_zero": ("data/ops_zero/ops_2014-01-09.csv", "zero-byte file"),
    "ops_header": ("data/ops_header/ops_2014-01-09.csv", "line 1: header does not match the declared columns"),
    "partner_refused": ("/v1/refused", "HTTP 401"),
}


@pytest.mark.slow
def test_each_bad_source_fails_its_own_delivery_check_naming_file_and_reason(messy_night) -> None:
    out = messy_night.run.out
    assert messy_night.run.process.returncode == 1, messy_night.run.describe()
    failed = [line for line in out.splitlines() if line.strip().startswith("failed check:")]
    assert len(failed) == len(BAD), out
    for source, (where, reason) in BAD.items():
        line = next((f for f in failed if f"raw/{source}:delivery" in f), None)
        assert line is not None and where in line and reason in line, (source, out)


@pytest.mark.slow
def test_the_rest_of_the_run_completes_and_publishes_the_good_sources(messy_night) -> None:
    run_id = run_id_from(messy_night.run.out)
    steps = steps_started(messy_night.output, run_id)
    assert {"dbt_models", "serving__published_marts", "report__alignment_report"} <= steps
    assert "failed step" not in messy_night.run.out  # bad data failed checks, not steps
    served = messy_night.output / "serving" / "kpi_alignment.duckdb"
    values = query(
        served,
        "select kpi_id, period_start::varchar, actual_value from marts.fct_kpi_values "
        "where is_native_grain and kpi_id in (?, 'KPI-PARTNER-SAT') order by 1, 2",
        [sc.EVIL_KPI],
    )
    assert [(p, v) for k, p, v in values if k == sc.EVIL_KPI] == list(sc.DEPT_VALUES.items())
    assert [(p, v) for k, p, v in values if k == "KPI-PARTNER-SAT"] == list(sc.PARTNER_VALUES.items())
    assert (messy_night.output / "reports" / f"alignment-2014-01-10-{run_id[:8]}.html").is_file()


@pytest.mark.slow
def test_bad_sources_wrote_nothing_but_their_failed_load_entry(messy_night) -> None:
    warehouse = messy_night.output / "warehouse.duckdb"
    rows = query(
        warehouse,
        "select source_name, status, rows_loaded from raw.file_loads where source_name in (?, ?, ?) order by 1",
        list(BAD),
    )
    assert rows == [(s, "failed", 0) for s in sorted(BAD)]
    stored = query(warehouse, "select count(*) from raw.metric_values where source_name in (?, ?, ?)", list(BAD))
    assert stored == [(0,)]


# --- property: mutated CSV into load_csv_source --------------------------------------------------------------------

ENCODINGS = ("utf-8", "latin-1", "cp1252", "cp1250", "utf-16")
METRIC_CHARS = "abcxyz_ -'\";,|\té€ł#0123456789"


@st.composite
def dialects(draw: st.DrawFn) -> dict:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    decimal = draw(st.sampled_from([d for d in (".", ",") if d != delimiter]))
    thousands = draw(st.sampled_from([None, *[t for t in (",", ".", " ", "'") if t not in (decimal, delimiter)]]))
    return {
        "encoding": draw(st.sampled_from(ENCODINGS)),
        "delimiter": delimiter,
        "decimal": decimal,
        "thousands": thousands,
        "null_values": ["", "NA"],
    }


@st.composite
def value_texts(draw: st.DrawFn, dialect: dict) -> str:
    """A number as the file would write it with ``dialect`` (grouped when a thousands separator is declared)."""
    whole = draw(st.integers(0, 9_999_999))
    digits = (
        f"{whole:,}".replace(",", dialect["thousands"]) if dialect["thousands"] and draw(st.booleans()) else str(whole)
    )
    frac = draw(st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=4)))
    sign = draw(st.sampled_from(["", "-", "+"]))
    return sign + digits + (dialect["decimal"] + frac if frac else "")


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[dict, bytes, list[str]]:
    """(dialect, mutated file bytes, names of the mutations applied) of a long-layout source."""
    d = draw(dialects())
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        metric = draw(st.text(METRIC_CHARS, min_size=1, max_size=10))
        day = draw(st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31))).isoformat()
        value = draw(st.one_of(value_texts(d), st.sampled_from(["", "NA"])))
        rows.append([day, metric, value])
    text_buf = io.StringIO()
    writer = csv.writer(text_buf, delimiter=d["delimiter"], lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerows([["date", "metric", "value"], *rows])
    text = text_buf.getvalue()
    applied = []
    if draw(st.booleans()):  # number-format drift (a decimal comma file in a decimal point source, or the reverse)
        text = text.translate(str.maketrans({".": ",", ",": "."}))
        applied.append("separators swapped")
    try:
        data = text.encode(d["encoding"])
    except UnicodeEncodeError:
        data = text.encode("utf-8")  # a character the declared code page lacks: the file arrives in UTF-8 anyway
        applied.append("utf-8 instead of declared encoding")
    if draw(st.booleans()):
        other = draw(st.sampled_from(ENCODINGS))
        try:
            data = data.decode(d["encoding"]).encode(other)
            applied.append(f"re-encoded as {other}")
        except (UnicodeDecodeError, UnicodeEncodeError):
            pass
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["flip", "insert", "truncate", "delete", "dup-line", "bom"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data = data[:pos] + bytes([draw(st.integers(0, 255))]) + data[pos + 1 :]
        elif kind == "insert":
            token = draw(st.sampled_from([d["delimiter"], '"', "\n", "\r", " ", "\x00", "NA", "1e5"]))
            data = data[:pos] + token.encode("utf-8") + data[pos:]
        elif kind == "truncate":
            data = data[:pos]
        elif kind == "delete":
            data = data[:pos] + data[pos + draw(st.integers(1, 8)) :]
        elif kind == "dup-line":
            lines = data.split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            data = b"\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
        elif kind == "bom":
            data = codecs.BOM_UTF8 + data
        applied.append(kind)
    return d, data, applied


def _number(text: str, d: dict) -> float | str | None:
    """The value a field holds under dialect ``d``: a float, None (a null token), or "invalid"."""
    if text in d["null_values"]:
        return None
    s = text.strip(" \t\r\n\xa0\u202f")
    dec = re.escape(d["decimal"])
    if re.fullmatch(rf"[+-]?\d+({dec}\d+)?([eE][+-]?\d+)?", s):
        return float(s.replace(d["decimal"], "."))
    if d["thousands"]:
        sep = "[ \xa0\u202f]" if d["thousands"] == " " else re.escape(d["thousands"])
        if re.fullmatch(rf"[+-]?\d{{1,3}}({sep}\d{{3}})+({dec}\d+)?", s):
            return float(re.sub(sep, "", s).replace(d["decimal"], "."))
    return "invalid"


def _date(text: str) -> dt.date | None:
    for candidate in (text, text.strip()):
        try:
            return dt.datetime.strptime(candidate, "%Y-%m-%d").date()
        except ValueError:
            continue
    return None


def _records_in(data: bytes, d: dict) -> Counter:
    """Every (metric, date, value) a record of the input states, read generously (two independent splitters), so
    that anything the loader may rightly load is in it; a value the input does not state is not."""
    text = data.decode(d["encoding"], errors="replace").lstrip("\ufeff")
    readings: list[list[str]] = []
    with contextlib.suppress(csv.Error):
        readings += list(csv.reader(io.StringIO(text, newline=""), delimiter=d["delimiter"], strict=False))
    for line in re.split(r"\r\n|\n|\r", text):
        readings.append(
            [f[1:-1].replace('""', '"') if f[:1] == f[-1:] == '"' else f for f in line.split(d["delimiter"])]
        )
    out: Counter = Counter()
    for fields in readings:
        if len(fields) < 3:
            continue
        day, value = _date(fields[0]), _number(fields[2], d)
        if day is not None and value != "invalid":
            out[(fields[1], day, value)] += 1
    return out


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(csv_files())
def test_mutated_csv_is_loaded_exactly_or_quarantined_never_crashes(case: tuple[dict, bytes, list[str]]) -> None:
    d, data, applied = case
    source = CsvSource.model_validate(
        {
            "name": "dept",
            "path": "drop/*.csv",
            "layout": "long",
            "dialect": d,
            "columns": {"date": "date", "metric": "varchar", "value": "double"},
            "date": {"column": "date", "format": "%Y-%m-%d"},
            "metric_column": "metric",
            "value_column": "value",
        }
    )
    errors = _Errors()
    logging.getLogger("ingest").addHandler(errors)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "drop").mkdir()
        (root / "drop" / "export.csv").write_bytes(data)
        con = duckdb.connect()
        try:
            result = load_csv_source(con, source, root, "L1")  # must not raise, whatever the bytes
            loaded = con.execute("select metric_name, period_date, value, dimension from raw.metric_values").fetchall()
            # one record may be rejected for several fields: count records (lines)
            rejects = con.execute("select count(distinct line_number) from raw.rejects").fetchall()[0][0]
        finally:
            con.close()
            logging.getLogger("ingest").removeHandler(errors)
    note = f"mutations {applied}, dialect {d}, bytes {data[:400]!r}"
    assert errors.records == [], f"unexpected error logged ({errors.records[0].getMessage()}); {note}"
    [file] = result.files
    assert file.status in ("loaded", "empty", "failed"), note
    if file.status == "failed":
        assert file.message.startswith("drop/export.csv: "), note  # names the file, then line/offset and reason
        assert loaded == [], note
        return
    assert file.source_records == file.rows_loaded + file.rows_rejected, note
    assert rejects == file.rows_rejected, note
    assert len(loaded) == file.rows_loaded, note
    stated = _records_in(data, d)
    got = Counter((m, p, v) for m, p, v, _ in loaded)
    assert all(dim == "*" for *_, dim in loaded)
    for row, n in got.items():
        assert stated[row] >= n, f"loaded {row} x{n}, which the input does not state; {note}"


# --- property: mutated API pages into load_api_source ---------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.sampled_from([10**400, 2**53 + 1])  # valid JSON integers a DOUBLE cannot hold exactly
    | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)


@st.composite
def api_pages(draw: st.DrawFn) -> tuple[bytes, list[dict]]:
    """(page body bytes, the records it was made from): valid records, then type drift, missing keys, junk."""
    records = [
        {
            "metric": draw(st.text("abc_é'\" ;", min_size=1, max_size=8)),
            "date": draw(st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31))).isoformat(),
            "value": draw(st.one_of(st.integers(-(10**9), 10**9), st.floats(-1e12, 1e12, allow_nan=False), st.none())),
        }
        for _ in range(draw(st.integers(0, 5)))
    ]
    for rec in records:
        if draw(st.integers(0, 3)) == 0:
            key = draw(st.sampled_from(["metric", "date", "value", "extra"]))
            if draw(st.booleans()):
                rec.pop(key, None)
            else:
                rec[key] = draw(JSON_VALUES)
    body = json.dumps({"data": records}).encode()
    mutation = draw(st.sampled_from(["none", "none", "truncate", "flip", "not-json", "nan", "1e400"]))
    if mutation == "truncate":
        body = body[: draw(st.integers(0, len(body)))]
    elif mutation == "flip":
        pos = draw(st.integers(0, len(body) - 1))
        body = body[:pos] + bytes([draw(st.integers(0, 255))]) + body[pos + 1 :]
    elif mutation == "not-json":
        body = b"<html>maintenance</html>"
    elif mutation in ("nan", "1e400"):  # not JSON / a JSON number beyond DOUBLE (Python reads it as infinity)
        bad = mutation.replace("nan", "NaN").encode()
        body = body.replace(b'"data": [', b'"data": [{"metric": "m", "date": "2020-01-01", "value": ' + bad + b"}, ", 1)
    return body, records


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(api_pages())
def test_mutated_api_page_is_loaded_exactly_or_refused_never_crashes(page: tuple[bytes, list[dict]]) -> None:
    body, _ = page
    token = "apitoken-for-property-test"
    with Loopback(token, {"/kpis": body}) as server:
        source = ApiSource.model_validate(
            {
                "name": "partner",
                "type": "api",
                "base_url": server.base_url,
                "path": "/kpis",
                "auth": {"type": "bearer", "token_env": "PARTNER_TOKEN"},
                "retry": {"max_attempts": 1},
                "records_path": "data",
                "metrics": {"metric_field": "metric", "date_field": "date", "value_field": "value"},
            }
        )
        con = duckdb.connect()
        try:
            try:
                result = load_api_source(con, source, "L1", env={"PARTNER_TOKEN": token})
            except ApiLoadError as e:
                assert "partner" in str(e) and token not in str(e)
                assert con.execute("select count(*) from raw.metric_values").fetchall() == [(0,)]
                return
            loaded = con.execute("select metric_name, period_date::varchar, value from raw.metric_values").fetchall()
        finally:
            con.close()
    stated = {
        (r["metric"], r["date"], None if r["value"] is None else float(r["value"])) for r in json.loads(body)["data"]
    }
    # each loaded row is a record of the page (exact duplicates across the page are loaded once), and no record's
    # key is silently missing
    assert result.rows_loaded == len(loaded)
    assert set(loaded) <= stated  # equal as numbers: an integer that a DOUBLE would round is not in ``loaded``
    assert all(v is None or math.isfinite(v) for *_, v in loaded)
    assert Counter((m, d) for m, d, _ in loaded) == Counter({(m, d) for m, d, _ in stated})
