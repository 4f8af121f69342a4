"""Load a CSV source (:class:`kpi_alignment.sources.CsvSource`) into ``raw.*`` — strictly, idempotently, per file.

Reading is declared, never guessed (``../shared/cases`` B01-B14): the loader reads every file matching the source's
glob with DuckDB ``read_csv`` using the source's dialect, ``auto_detect=false`` and every column as VARCHAR, then
casts in SQL with checks that never round or guess:

* **numbers** — ignoring surrounding blanks, a ``double`` must match ``[+-]digits[.digits][e±digits]`` with the declared
  decimal separator, or (only when ``thousands`` is declared) a strictly grouped number such as ``1,234,567.89``
  (``^[+-]?\\d{1,3}(,\\d{3})+(\\.\\d+)?$``; a space separator also matches U+00A0/U+202F). An ``integer`` must be
  ``[+-]digits`` (or grouped): ``12.75`` in an integer column is a reject, never 13 (B05). ``1_000``, ``0x10``,
  ``inf`` are rejects although DuckDB's own cast accepts them. Leading zeros are accepted in numbers (``0042`` is
  exactly 42); codes that need them are declared ``varchar`` (B14).
* **dates** are parsed with the declared strptime format only (``date.format`` for the period column,
  ``dialect.date_format`` otherwise; B11). Timestamps: ``dialect.timestamp_format`` or strict ISO 8601, converted
  to UTC when the value carries an offset. Booleans: true/false, t/f, yes/no, y/n, 1/0 (any case).
* **null tokens** (``dialect.null_values``, compared exactly with the field, quotes removed) become NULL;
  **spreadsheet error values** (``dialect.error_values``: ``#DIV/0!``, ``#NV`` …) become NULL too but are counted
  and listed in ``raw.formula_errors`` (B13). Text (``varchar``) is kept exactly as written, spaces included.

Every record of a file ends up loaded or in ``raw.rejects`` (file, line, field, reason, raw line): structurally
bad lines (DuckDB ``store_rejects``: too many/missing fields, bad quoting, invalid UTF-8), values that fail their
cast, records without a metric name or period, blank lines between records (B02), and duplicate records (every
parsed value equal: loaded once, later copies rejected as ``duplicate row``; B30). A record whose extra fields are
all empty (a trailing delimiter, ``K-005,50,``) is loaded. Trailing blank lines at the end of a file are ignored.
The file's line count is reconciled with loaded + rejected records; a mismatch fails the file (B05, B06).

Line numbers (``raw.rejects.line_number`` and ``source_row``) count every line of the file — banner lines, the
header, blank lines — except that a line break inside a quoted field does not start a new line (so in a file
without multi-line fields they are the line numbers an editor shows).

Files and transactions: each file is one DuckDB transaction: its previous rows (key ``source_name, source_file``)
are deleted and the new ones inserted together, so a failing file rolls back only itself and earlier data is
never lost. A file whose bytes (sha256) and source definition are unchanged since its last successful load is
``unchanged`` and nothing is written but its ``raw.file_loads`` entry (B30). A zero-byte file fails
("delivery missing or corrupt") and a header-only file is ``empty``; neither deletes rows already loaded (B09).
A file whose records are all rejected fails (its previous rows are kept).

Encodings: DuckDB reads UTF-8 and latin-1 itself; any other Python codec (cp1252, cp1250, utf-16 …) is first
transcoded to a temporary UTF-8 file, strictly: an undecodable byte fails the file naming its byte offset and line.

Storage: rows of ``long``/``wide`` sources go to ``raw.metric_values__csv`` with a BIGINT ``file_id``; the file's
provenance (source, file, hash, load id, time) is one row of ``raw.metric_values__files``, and the view
``raw.metric_values`` joins them back into the contract's columns (:mod:`ingest.raw_schema`). Table-layout rows
carry their provenance columns themselves.

Performance (``make bench``; issue 8): one hashing pass in Python (sha256 + newline count, C speed; for a new or
resized file it runs in a thread while DuckDB reads the file). A long-layout file without a ``catalog:`` mapping is
first read in one parallel ``read_csv`` pass straight into ``raw.metric_values__csv`` within its transaction, lines
numbered by ``row_number()``; the pass stops at the first value to reject or report, and the load is kept only when
the file's line count equals the records inserted (no blank line, shape reject or multi-line field) and a distinct
count of the inserted rows (per hash partition of 2M rows, so its memory stays small) finds no duplicate. Every
other file — and, after a rollback, a long one that failed those checks, so such a file is read twice — is staged:
one ``read_csv`` pass into a temporary typed table holding only the typed values and two flags, one aggregate over
it (counts and the distinct-row count that exposes duplicates), one set-based insert; the extra passes (reject
details, duplicate positions, blank-line positions, DuckDB's shape rejects) run only when the cheap counts say there
is something to find. CPU of 10M clean long rows on 2 cores: the one pass ~4.8 s (DuckDB's own typed ``CREATE TABLE
AS read_csv`` ~3.2 s; the strict parsing adds ~1.1 s), hashing ~0.45 s, duplicate count ~1.4 s; staging the same
file takes ~20 % more CPU and ~1 GB of memory instead of ~250 MB. A file whose size and modification time are those
recorded when its hash was last taken — a hash taken over two seconds after that modification time, so a later
rewrite within the file system's clock granularity cannot hide — is ``unchanged`` without reading it; the previous
loads of all files of a source are read in one query, and the ``unchanged`` entries are written in one insert, so a
nightly run over thousands of unchanged files costs milliseconds. No per-row Python except for the rare rows DuckDB
rejects as having too many fields, and a blank-line search in files that have both blank lines and multi-line
fields.

The caller holds the warehouse writer lock (:func:`kpi_alignment.warehouse.writer_lock`) and passes a connection
that is not inside a transaction.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import glob
import hashlib
import io
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ingest.raw_schema import (
    FORMULA_ERRORS,
    METRIC_CSV,
    METRIC_CSV_TABLE,
    METRIC_FILE_ID_SEQUENCE,
    METRIC_FILES_TABLE,
    METRIC_ROWS_TABLE,
    REJECTS,
    SOURCE_CATALOG_TABLES,
    column_list,
    create_raw_tables,
    create_source_table,
    quote_ident,
    source_table_columns,
)
from kpi_alignment.sources import ColumnType, CsvSource, Layout

LOADER_VERSION = "2"
"""Part of each file's config hash: bump when a change to this module must re-read unchanged files."""

_CHUNK = 1 << 20
# DuckDB's nullstr is a text no real field equals (so '' stays ''), made of control characters because DuckDB
# refuses one that contains the delimiter, quote or escape: any character but a line break can be the delimiter.
_NULL_CANDIDATES = "\x1f\x1e\x1d\x1c\x1b\x1a\x19\x18"
_DISTINCT_PARTITION = 2_000_000
_STAGE = "kpi-align: stage the file"  # stops a one-pass load (a value to reject or report) so the file is staged
_TYPED = "__kpi_align_typed"
_RECOVERED = "__kpi_align_recovered"
_GAPS = "__kpi_align_gaps"
_DUPS = "__kpi_align_dups"
_REJECTS_TABLE = "__kpi_align_read_rejects"
_REJECTS_SCAN = "__kpi_align_read_scans"
_ROWS = "__kpi_align_catalog_rows"
_KPIS = "__kpi_align_catalog_kpis"
_DIRMAP = "__kpi_align_direction_map"
_WHITESPACE = "' ' || chr(9) || chr(10) || chr(13)"  # SQL: what trim() removes from derived catalog text
_SHOWN_REASONS = 5  # reject reasons quoted in a file's message
# A file modified less than this before its hash was taken is hashed again even when size and mtime still match:
# file-system clocks can be coarse (a rewrite in the same tick keeps the mtime), like git's "racily clean" entries.
_RACY_NS = 2_000_000_000
_SUCCESS = ("loaded", "replaced", "unchanged", "empty")

log = logging.getLogger(__name__)


# --- results ------------------------------------------------------------------------------------------------------


@dataclass
class FileLoadResult:
    """What happened to one file.

    ``status``: loaded | replaced | unchanged | empty | failed. ``source_records`` = data records in the file
    (blank lines between records included) = ``rows_loaded + rows_rejected`` for a successful load.
    ``rows_loaded`` counts records; ``values_written`` counts the rows written to the raw table (a wide record
    gives one ``raw.metric_values`` row per non-empty value column). ``formula_errors`` counts cells.
    """

    file: str  # the path as stored in source_file: relative to the project directory when inside it
    file_hash: str | None
    status: str
    source_records: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    values_written: int = 0
    formula_errors: int = 0
    duplicates: int = 0
    message: str = ""
    # seconds per phase, for bench: scan, stage, write; direct_attempt = a one-pass load that gave way to staging
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass
class SourceLoadResult:
    """The outcome of :func:`load_csv_source` for one source: one :class:`FileLoadResult` per matching file."""

    source_name: str
    load_id: str
    files: list[FileLoadResult] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # source-level, e.g. "no file matches ..."

    def _count(self, status: str) -> int:
        return sum(f.status == status for f in self.files)

    @property
    def files_seen(self) -> int:
        return len(self.files)

    @property
    def files_loaded(self) -> int:
        return self._count("loaded")

    @property
    def files_unchanged(self) -> int:
        return self._count("unchanged")

    @property
    def files_replaced(self) -> int:
        return self._count("replaced")

    @property
    def files_empty(self) -> int:
        return self._count("empty")

    @property
    def files_failed(self) -> int:
        return self._count("failed")

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def formula_errors(self) -> int:
        return sum(f.formula_errors for f in self.files)

    @property
    def ok(self) -> bool:
        """No file failed and at least one file matched."""
        return bool(self.files) and self.files_failed == 0

    def file_messages(self) -> list[str]:
        """``<file>: <status>: <message>`` for every file, then the source-level messages."""
        return [f"{f.file}: {f.status}: {f.message}" for f in self.files] + self.messages


class FileLoadError(Exception):
    """A file cannot be loaded; the message names the file, line or byte offset, and the reason."""


# --- entry point --------------------------------------------------------------------------------------------------


def load_csv_source(
    con: duckdb.DuckDBPyConnection,
    source: CsvSource,
    project_root: Path,
    load_id: str,
    *,
    loaded_at: dt.datetime | None = None,
) -> SourceLoadResult:
    """Load every file of ``source`` (sorted by path) into its raw table; each file in its own transaction.

    Inputs: an open read-write connection (writer lock held, no open transaction); ``project_root`` resolves a
    relative ``source.path`` glob and makes ``source_file`` relative; ``load_id`` tags every row written;
    ``loaded_at`` (naive UTC, default now) stamps them.

    Writes ``raw.metric_values`` (long/wide) or ``raw.<table>`` (table), ``raw.rejects``, ``raw.formula_errors``,
    ``raw.file_loads`` (one row per file, also for unchanged and failed files) and, with a ``catalog:`` mapping,
    ``raw.source_objectives`` / ``source_kpis`` / ``source_kpi_links`` / ``source_kpi_metrics``.

    Returns a :class:`SourceLoadResult`; a failed file does not raise (see its ``message``). Raises
    :class:`ingest.raw_schema.RawSchemaError` when ``raw.<table>`` contradicts the declared columns.
    """
    stamp = loaded_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    create_raw_tables(con)
    create_source_table(con, source)
    result = SourceLoadResult(source.name, load_id)
    files = source_files(source, project_root)
    if not files:
        result.messages.append(f"no file matches '{source.path}'")
    config_hash = hashlib.sha256((LOADER_VERSION + source.model_dump_json()).encode()).hexdigest()
    previous = _previous_loads(con, source.name)
    unchanged: list[list[Any]] = []  # raw.file_loads rows of unchanged files, written together at the end
    try:
        for path in files:
            load = _FileLoad(con, source, project_root, path, load_id, stamp, config_hash)
            load.previous = previous.get(load.rel)
            outcome = load.run()
            outcome.timings = load.timings
            if outcome.status == "unchanged":
                unchanged.append(load.file_loads_row(outcome))
            result.files.append(outcome)
    finally:
        _record_many(con, unchanged)
    return result


@dataclass(frozen=True)
class _Previous:
    """A file's last successful load as recorded in ``raw.file_loads``."""

    file_hash: str | None
    config_hash: str | None
    file_size: int | None
    file_mtime_ns: int | None
    hashed_at_ns: int | None


def _previous_loads(con: duckdb.DuckDBPyConnection, source_name: str) -> dict[str, _Previous]:
    """``source_file`` -> its last successful load (loaded, replaced, unchanged or empty), for every file at once."""
    rows = con.execute(
        "SELECT source_file, file_hash, config_hash, file_size, file_mtime_ns, hashed_at_ns FROM raw.file_loads "
        f"WHERE source_name = ? AND status IN {_SUCCESS!r} "
        "QUALIFY row_number() OVER (PARTITION BY source_file ORDER BY loaded_at DESC, rowid DESC) = 1",
        [source_name],
    ).fetchall()
    return {r[0]: _Previous(*r[1:]) for r in rows}


_FILE_LOADS_COLUMNS = (
    "source_name, source_file, file_hash, status, source_records, rows_loaded, rows_rejected, load_id, loaded_at, "
    "message, formula_errors, config_hash, file_size, file_mtime_ns, hashed_at_ns"
)
_FILE_LOADS_TYPES = (
    "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "BIGINT", "BIGINT", "BIGINT", "VARCHAR", "TIMESTAMP",
    "VARCHAR", "BIGINT", "VARCHAR", "BIGINT", "BIGINT", "BIGINT",
)  # fmt: skip


def _record_many(con: duckdb.DuckDBPyConnection, rows: list[list[Any]]) -> None:
    """Append ``raw.file_loads`` rows in one statement (column lists unnested side by side)."""
    if not rows:
        return
    lists = ", ".join(f"unnest(?::{t}[])" for t in _FILE_LOADS_TYPES)
    con.execute(
        f"INSERT INTO raw.file_loads ({_FILE_LOADS_COLUMNS}) SELECT {lists}",
        [list(col) for col in zip(*rows, strict=True)],
    )


def source_files(source: CsvSource, project_root: Path) -> list[Path]:
    """Files matching ``source.path``: a glob relative to ``project_root`` or absolute; sorted, files only."""
    pattern = source.path
    if Path(pattern).is_absolute():
        matches = [Path(p) for p in glob.glob(pattern, recursive=True)]
    else:
        matches = list(Path(project_root).glob(pattern))
    return sorted(p for p in matches if p.is_file())


def normalize_header_name(name: str, quote: str = '"') -> str:
    """A header cell as a column name: BOM, surrounding spaces and quotes removed (B01).

    ``'\\ufeff"kpi_id" '`` → ``kpi_id``. Inner characters are kept as they are (case included).
    """
    previous = None
    while previous != name:
        previous = name
        name = name.strip().lstrip("\ufeff").strip()
        if len(name) >= 2 and name[0] == quote and name[-1] == quote:
            name = name[1:-1].replace(quote * 2, quote)
    return name


# --- SQL helpers --------------------------------------------------------------------------------------------------


def _lit(text: str) -> str:
    """A SQL string literal (DuckDB has no backslash escapes: doubling quotes is complete)."""
    return "'" + text.replace("'", "''") + "'"


@contextlib.contextmanager
def _setting(con: duckdb.DuckDBPyConnection, name: str, value: bool) -> Iterator[None]:
    old = con.execute(f"SELECT current_setting('{name}')").fetchone()[0]  # type: ignore[index]
    con.execute(f"SET {name} = {str(value).lower()}")
    try:
        yield
    finally:
        con.execute(f"SET {name} = {str(old).lower()}")


@dataclass(frozen=True)
class _Col:
    """One declared column with the type it is parsed as (date/period columns may differ from the declaration)."""

    index: int
    name: str
    kind: str
    fmt: str | None = None

    @property
    def raw(self) -> str:
        return f"c{self.index}"

    @property
    def value(self) -> str:
        return f"v{self.index}"


class _Parser:
    """SQL expressions that parse one column's raw text strictly (see the module docstring).

    DuckDB's own casts are fast but lenient: after trimming blanks, DOUBLE also accepts ``1_000`` and ``+-5``;
    BIGINT also accepts ``12.75`` (rounded), ``1e3``, ``0x10`` and ``0b101``. The checks here exclude exactly
    those extras with cheap ``contains`` tests instead of a regular expression per value; a property test
    (``tests/ingest/test_ingest_numbers.py``) compares them with the reference grammar on every DuckDB upgrade.
    Grouped numbers (a declared thousands separator) are matched with the strict regular expression.
    """

    def __init__(self, source: CsvSource):
        d = source.dialect
        self.null_values = list(d.null_values)
        self.error_values = list(d.error_values)
        self.decimal = d.decimal
        self.thousands = d.thousands
        self.timestamp_format = d.timestamp_format
        dec = "[" + re.escape(d.decimal) + "]"
        blank = r"[ \t]*"
        self.thousands_class: str | None = None
        self.grouped_double = self.grouped_integer = None
        if d.thousands is not None:
            cls = r"[ \x{00A0}\x{202F}]" if d.thousands == " " else "[" + re.escape(d.thousands) + "]"
            self.thousands_class = cls
            self.grouped_integer = rf"^{blank}[+-]?\d{{1,3}}({cls}\d{{3}})+{blank}$"
            self.grouped_double = rf"^{blank}[+-]?\d{{1,3}}({cls}\d{{3}})+({dec}\d+)?{blank}$"

    # -- tokens

    @staticmethod
    def tokens(expr: str, tokens: Sequence[str]) -> str:
        """``expr`` equals one of ``tokens`` (exact match), cheap for the common non-token value.

        Tokens sharing a first character are tested only when the value starts with it (``#DIV/0!``, ``#NV``
        … cost one prefix test for ordinary values).
        """
        groups: dict[str, list[str]] = {}
        for t in dict.fromkeys(tokens):
            groups.setdefault(t[:1], []).append(t)
        tests = []
        for first, group in groups.items():
            if len(group) == 1:
                tests.append(f"{expr} = {_lit(group[0])}")
            else:
                tests.append(f"(starts_with({expr}, {_lit(first)}) AND {expr} IN ({', '.join(map(_lit, group))}))")
        return "(" + " OR ".join(tests) + ")" if tests else "FALSE"

    def is_null(self, expr: str) -> str:
        return self.tokens(expr, self.null_values)

    def is_error(self, expr: str) -> str:
        return self.tokens(expr, self.error_values)

    # -- values

    def _thousands_in(self, raw: str) -> str:
        if self.thousands == " ":
            return f"regexp_matches(trim({raw}, ' ' || chr(9)), {_lit(self.thousands_class or '')})"
        return f"contains({raw}, {_lit(self.thousands or '')})"

    def _ungrouped(self, raw: str) -> str:
        """The raw text with thousands separators removed and the decimal separator made '.'."""
        expr = raw
        if self.thousands_class is not None:
            expr = f"regexp_replace({expr}, {_lit(self.thousands_class)}, '', 'g')"
        if self.decimal != ".":
            expr = f"replace({expr}, {_lit(self.decimal)}, '.')"
        return expr

    def value(self, col: _Col, raw: str) -> str:
        """Typed value of ``raw`` (NULL, or garbage for text that is not valid; see :meth:`exact`)."""
        if col.kind == ColumnType.double:
            return f"TRY_CAST({self._ungrouped(raw)} AS DOUBLE)"
        if col.kind == ColumnType.integer:
            ungrouped = (
                raw if self.thousands_class is None else f"regexp_replace({raw}, {_lit(self.thousands_class)}, '', 'g')"
            )
            return f"TRY_CAST({ungrouped} AS BIGINT)"
        if col.kind == ColumnType.date:
            return f"CAST(try_strptime({raw}, {_lit(col.fmt or '%Y-%m-%d')}) AS DATE)"
        if col.kind == ColumnType.timestamp:
            fmt = col.fmt or self.timestamp_format
            if fmt is not None:
                parsed = f"try_strptime({raw}, {_lit(fmt)})"
                return f"timezone('UTC', {parsed})" if ("%z" in fmt or "%Z" in fmt) else parsed
            offset = r"(Z|[+-]\d{2}(:?\d{2})?)[ \t]*$"
            return (
                f"CASE WHEN regexp_matches({raw}, {_lit(offset)}) "
                f"THEN timezone('UTC', TRY_CAST({raw} AS TIMESTAMPTZ)) ELSE TRY_CAST({raw} AS TIMESTAMP) END"
            )
        if col.kind == ColumnType.boolean:
            return (
                f"CASE WHEN lower(trim({raw})) IN ('true', 't', 'yes', 'y', '1') THEN TRUE "
                f"WHEN lower(trim({raw})) IN ('false', 'f', 'no', 'n', '0') THEN FALSE END"
            )
        raise ValueError(f"no typed value for {col.kind}")

    def exact(self, col: _Col, raw: str, value: str) -> str:
        """Whether ``raw`` parsed exactly to ``value`` (the expression of :meth:`value`); never NULL."""
        return f"coalesce({self._exact(col, raw, value)}, FALSE)"  # a NULL would vanish under NOT in a WHERE

    def _exact(self, col: _Col, raw: str, value: str) -> str:
        if col.kind in (ColumnType.double, ColumnType.integer):
            if col.kind == ColumnType.double:
                plain = f"isfinite({value}) AND NOT contains({raw}, '_') AND NOT contains({raw}, '+-')"
                if self.decimal != ".":
                    plain += f" AND NOT contains({raw}, '.')"
                grouped = self.grouped_double
            else:
                lenient = (".", "e", "E", "_", "x", "X", "b", "B", "+-")  # what BIGINT accepts beyond [+-]digits
                plain = f"{value} IS NOT NULL AND " + " AND ".join(f"NOT contains({raw}, {_lit(c)})" for c in lenient)
                grouped = self.grouped_integer
            if grouped is None:
                return f"({plain})"
            return (
                f"(CASE WHEN {self._thousands_in(raw)} THEN regexp_full_match({raw}, {_lit(grouped)}) "
                f"AND {value} IS NOT NULL ELSE {plain} END)"
            )
        if col.kind == ColumnType.timestamp and col.fmt is None and self.timestamp_format is None:
            iso = r"^[ \t]*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?[ \t]*$"
            return f"(regexp_full_match({raw}, {_lit(iso)}) AND {value} IS NOT NULL)"
        if "%Y" in (col.fmt or self.timestamp_format or ""):
            # DuckDB's %Y also takes 1-3 digits: '24-05-01' would be the year 24, a truncated year, never data
            return f"({value} IS NOT NULL AND year({value}) BETWEEN 1000 AND 9999)"
        return f"({value} IS NOT NULL)"

    def reason(self, col: _Col) -> str:
        """Why a value of ``col`` was rejected (the value itself is appended by the caller)."""
        seps = f"decimal '{self.decimal}'" + (
            f", thousands '{self.thousands}'" if self.thousands else ", no thousands separator"
        )
        if col.kind == ColumnType.double:
            return f"not a number ({seps})"
        if col.kind == ColumnType.integer:
            return f"not an integer (no rounding; {seps})"
        if col.kind == ColumnType.date:
            return f"not a date in format {col.fmt}"
        if col.kind == ColumnType.timestamp:
            fmt = col.fmt or self.timestamp_format
            return f"not a timestamp in format {fmt}" if fmt else "not an ISO 8601 timestamp"
        return "not a boolean (true/false, t/f, yes/no, y/n, 1/0)"

    def accepted(self, col: _Col, raw: str) -> str:
        """Whether ``raw`` is a valid field of ``col``: a null token, an error value, or an exact value."""
        if col.kind == ColumnType.varchar:
            return "TRUE"
        return f"({self.is_null(raw)} OR {self.is_error(raw)} OR {self.exact(col, raw, self.value(col, raw))})"


# --- reading the bytes --------------------------------------------------------------------------------------------


@dataclass
class _Scan:
    """The bytes DuckDB reads (the file itself, or a UTF-8 transcoding of it) and their line counts."""

    path: Path  # what DuckDB reads
    duck_encoding: str  # utf-8 or latin-1
    text_encoding: str  # Python codec to read ``path`` as text
    sha256: str
    size: int
    physical_lines: int  # lines of ``path``, a last line without newline included
    trailing_blank_lines: int  # empty lines after the last non-empty one
    temporary: bool


_NATIVE = {"utf-8": ("utf-8", "utf-8-sig"), "utf-8-sig": ("utf-8", "utf-8-sig"), "iso8859-1": ("latin-1", "latin-1")}


def _scan(path: Path, encoding: str, label: str) -> _Scan:
    """Hash the file, count its lines and, for codecs DuckDB cannot read, transcode it strictly to UTF-8."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError as e:
        raise FileLoadError(f"{label}: unknown encoding '{encoding}'") from e
    sha = hashlib.sha256()
    size = newlines = 0
    tail = b""
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        _check_bom(head, codec, encoding, label)
        if codec in _NATIVE:
            while chunk := fh.read(_CHUNK):
                sha.update(chunk)
                size += len(chunk)
                newlines += chunk.count(b"\n")
                tail = (tail + chunk)[-4096:]
            duck, text = _NATIVE[codec]
            return _Scan(path, duck, text, sha.hexdigest(), size, *_line_counts(newlines, tail, size), False)
        decoder = codecs.getincrementaldecoder(codec)("strict")
        fd, tmp_name = tempfile.mkstemp(prefix="kpi-align-", suffix=".utf8.csv")
        out_size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = fh.read(_CHUNK)
                    final = not chunk
                    sha.update(chunk)
                    pending = decoder.getstate()[0]
                    try:
                        text = decoder.decode(chunk, final=final)
                    except UnicodeDecodeError as e:
                        offset = size - len(pending) + e.start
                        prefix = (pending + chunk)[: e.start].decode(codec, errors="replace")
                        line = newlines + prefix.count("\n") + 1
                        bad = (pending + chunk)[e.start : e.end].hex(" ")
                        raise FileLoadError(
                            f"{label}: byte offset {offset} (line {line}): bytes {bad} are not valid {encoding} "
                            f"({e.reason}); fix the file or the source's dialect.encoding"
                        ) from e
                    except UnicodeError as e:  # e.g. utf-16 without a byte-order mark: no position to name
                        raise FileLoadError(
                            f"{label}: byte offset {size}: not valid {encoding} ({e}); fix the file or the source's "
                            "dialect.encoding (utf-16-le / utf-16-be when the file has no byte-order mark)"
                        ) from e
                    size += len(chunk)
                    data = text.encode("utf-8")
                    out.write(data)
                    out_size += len(data)
                    newlines += data.count(b"\n")
                    tail = (tail + data)[-4096:]
                    if final:
                        break
        except BaseException:
            os.unlink(tmp_name)
            raise
        counts = _line_counts(newlines, tail, out_size)
        return _Scan(Path(tmp_name), "utf-8", "utf-8", sha.hexdigest(), size, *counts, True)


def _not_latin1(path: Path, label: str) -> str:
    """Why DuckDB refused a latin-1 file: its first byte 0x80-0x9F (a C1 control code, never text; in practice the
    file is cp1252 or UTF-8), with byte offset and line."""
    offset = newlines = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            found = re.search(rb"[\x80-\x9f]", chunk)
            if found:
                line = newlines + chunk.count(b"\n", 0, found.start()) + 1
                return (
                    f"{label}: byte offset {offset + found.start()} (line {line}): byte {found.group().hex()} is a "
                    "control code, not text, in latin-1 (the file is probably cp1252 or UTF-8); fix the file or the "
                    "source's dialect.encoding"
                )
            offset += len(chunk)
            newlines += chunk.count(b"\n")
    return f"{label}: DuckDB refused the file as latin-1; fix the file or the source's dialect.encoding"


def _unparsable(path: Path, encoding: str, label: str) -> str:
    """Why DuckDB's CSV parser gave up on a whole file: line ends that change within it (CRLF, LF, CR), named by
    the first line that differs from line 1, or else a generic reason."""
    first = None
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        for n, line in enumerate(fh, 1):
            end = next((e for e in ("\r\n", "\n", "\r") if line.endswith(e)), None)
            if end is None:
                break
            first = first or end
            if end != first:
                return (
                    f"{label}: line {n}: ends with {end!r} but line 1 with {first!r}: a file with mixed line ends "
                    "cannot be read; save it with one kind of line end"
                )
    return f"{label}: the CSV parser could not read the file (malformed quoting or control characters)"


def _check_bom(head: bytes, codec: str, encoding: str, label: str) -> None:
    if head.startswith(codecs.BOM_UTF8) and not codec.startswith("utf-8"):
        raise FileLoadError(
            f"{label}: starts with a UTF-8 byte-order mark but the source declares encoding '{encoding}'"
        )
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) and not codec.startswith("utf-16"):
        raise FileLoadError(
            f"{label}: starts with a UTF-16 byte-order mark but the source declares encoding '{encoding}'"
        )


def _line_counts(newlines: int, tail: bytes, size: int) -> tuple[int, int]:
    """(physical lines, trailing blank lines) from the newline count and the last bytes of the file."""
    if size == 0:
        return 0, 0
    ends_with_newline = tail.endswith(b"\n")
    lines = newlines + (0 if ends_with_newline else 1)
    stripped = tail.rstrip(b"\r\n")
    blank_tail = tail[len(stripped) :].count(b"\n") - 1 if ends_with_newline else 0
    return lines, max(blank_tail, 0)


def _blank_lines_by_bytes(path: Path, first: int, last: int) -> list[int]:
    """Physical numbers of the empty lines ``first..last`` of a file (for files without multi-line fields)."""
    found: set[int] = set()
    newlines_before = 0  # newlines in the file before the current chunk
    prev = b""  # the last bytes of the previous chunk: a pattern may straddle two chunks
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            data = prev + chunk
            base = newlines_before - prev.count(b"\n")  # newlines before data[0]
            for pattern in (b"\n\n", b"\n\r\n"):
                start = 0
                while (i := data.find(pattern, start)) >= 0:
                    if i + len(pattern) > len(prev):  # not wholly inside the previous chunk (seen there)
                        found.add(base + data.count(b"\n", 0, i + 1) + 1)  # the empty line starts at i + 1
                    start = i + 1
            newlines_before += chunk.count(b"\n")
            prev = data[-2:]
    return sorted(n for n in found if first <= n <= last)


# --- one file -----------------------------------------------------------------------------------------------------


@dataclass
class _Counts:
    """Cheap aggregate over the typed table that decides which extra passes are needed."""

    good: int  # well-formed records (duplicates included)
    distinct: int  # distinct value hashes among them (fewer than good: duplicates)
    bad: int  # records with a value that failed its type, or without metric name / period
    with_errors: int  # good records holding a spreadsheet error value


@dataclass
class _Staged:
    """What :meth:`_FileLoad._stage` found in a file."""

    records: int  # records DuckDB saw (loaded, rejected, recovered); blank lines not included
    recovered: int  # DuckDB rejects loaded after all (only empty extra fields)
    blank_lines: list[int]
    counts: _Counts
    duplicates: int
    shape_rejects: int  # lines DuckDB could not split into the declared fields (recovered ones included)

    @property
    def clean(self) -> bool:
        """Nothing to reject: no shape rejects, blank lines, bad values or duplicates."""
        return not (self.shape_rejects or self.blank_lines or self.counts.bad or self.duplicates)


class _FileLoad:
    """Loads one file. :meth:`run` never raises for bad input: it returns a failed :class:`FileLoadResult`."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        source: CsvSource,
        project_root: Path,
        path: Path,
        load_id: str,
        loaded_at: dt.datetime,
        config_hash: str,
    ):
        self.con = con
        self.source = source
        self.path = path
        self.load_id = load_id
        self.loaded_at = loaded_at
        self.config_hash = config_hash
        root = Path(project_root).resolve()
        resolved = path.resolve()
        self.rel = resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else resolved.as_posix()
        self.dialect = source.dialect
        self.parser = _Parser(source)
        self.cols = self._columns()
        self.by_name = {c.name: c for c in self.cols}
        self.file_hash: str | None = None
        self.previous: _Previous | None = None  # set by the caller: this file's last successful load
        # the file as seen when it was hashed (raw.file_loads.file_size / file_mtime_ns / hashed_at_ns)
        self.stat: os.stat_result | None = None
        self.hashed_at_ns: int | None = None
        self.timings: dict[str, float] = {}
        # set while loading
        self.base = 0  # lines before the first record (banner lines + header)
        self.has_gaps = False
        self.has_dups = False
        self.notes: list[str] = []

    @property
    def metric_layout(self) -> bool:
        """Rows go to the compact ``raw.metric_values__csv`` (long and wide layouts)."""
        return self.source.layout != Layout.table

    # ---- column plan

    def _columns(self) -> list[_Col]:
        s = self.source
        cols = []
        for i, (name, kind) in enumerate(s.columns.items()):
            fmt = self.dialect.date_format if kind == ColumnType.date else None
            if s.layout != Layout.table and s.date is not None:
                if name == s.date.column:  # the period column is parsed with date.format whatever its declaration
                    kind, fmt = ColumnType.date.value, s.date.format
                elif name in (s.date.year, s.date.month, s.date.day):
                    kind, fmt = ColumnType.integer.value, None
            cols.append(_Col(i, name, kind, fmt))
        return cols

    def _metric_period_sql(self, t: str = "") -> tuple[str | None, str | None]:
        """SQL of the row's metric name and period date over the typed columns (None where the layout has none).

        ``t`` qualifies the columns (``"t"`` → ``t.v1``). Computed where used rather than stored in the typed
        table: a stored copy of the metric name doubled the staged text.
        """
        s = self.source
        if s.layout == Layout.table:
            return None, None
        q = f"{t}." if t else ""
        metric = None
        if s.metric_column is not None:
            col = self.by_name[s.metric_column]
            metric = q + col.value if col.kind == ColumnType.varchar else f"CAST({q}{col.value} AS VARCHAR)"
        period = None
        if s.date is not None:
            if s.date.column is not None:
                period = q + self.by_name[s.date.column].value
            else:
                y = q + self.by_name[s.date.year].value  # type: ignore[index]
                m = q + self.by_name[s.date.month].value  # type: ignore[index]
                day = q + self.by_name[s.date.day].value if s.date.day else "1"
                period = f"try(make_date({y}, {m}, {day}))"
        return metric, period

    def _period_field(self) -> str | None:
        date = self.source.date
        if date is None:
            return None
        return date.column or ",".join(c for c in (date.year, date.month, date.day) if c)

    # ---- driver

    def run(self) -> FileLoadResult:
        """Load the file; an ``unchanged`` result is not recorded here (the caller writes those rows together)."""
        label = self.rel
        scan: _Scan | None = None
        pool: ThreadPoolExecutor | None = None
        started = time.perf_counter()
        try:
            self.stat = self.path.stat()
            if self.stat.st_size == 0:
                self.file_hash = hashlib.sha256(b"").hexdigest()
                raise FileLoadError(f"{label}: zero-byte file: delivery missing or corrupt (earlier data kept)")
            prev = self.previous
            if self._stat_unchanged():
                assert prev is not None
                self.file_hash, self.hashed_at_ns = prev.file_hash, prev.hashed_at_ns
                return FileLoadResult(self.rel, self.file_hash, "unchanged", message="same size and mtime as hashed")
            native = self._native_encoding(label)
            if native is not None and (prev is None or prev.file_size != self.stat.st_size):
                # Certainly new bytes: hash in a thread while DuckDB reads the file (both release the GIL).
                with open(self.path, "rb") as fh:
                    _check_bom(fh.read(4), native[2], self.dialect.encoding, label)
                self.hashed_at_ns = time.time_ns()
                pool = ThreadPoolExecutor(1, thread_name_prefix="kpi-align-hash")
                future = pool.submit(_scan, self.path, self.dialect.encoding, label)

                def finished_scan() -> _Scan:
                    nonlocal scan
                    scan = future.result()
                    self.file_hash = scan.sha256
                    self.timings.setdefault("scan", time.perf_counter() - started)
                    return scan

                header_lines = self._check_header(self.path, native[1])
                return self._load(self.path, native[0], finished_scan, header_lines, replacing=prev is not None)
            self.hashed_at_ns = time.time_ns()
            scan = _scan(self.path, self.dialect.encoding, label)
            self.file_hash = scan.sha256
            self.timings["scan"] = time.perf_counter() - started
            if prev is not None and (prev.file_hash, prev.config_hash) == (scan.sha256, self.config_hash):
                return FileLoadResult(self.rel, scan.sha256, "unchanged", message="same bytes and definition")
            header_lines = self._check_header(scan.path, scan.text_encoding)
            done = scan
            return self._load(scan.path, scan.duck_encoding, lambda: done, header_lines, replacing=prev is not None)
        except Exception as e:  # one file's failure never stops the others, nor loses what is loaded
            if self.file_hash is None and pool is not None:  # a failed file is recorded with its hash all the same
                with contextlib.suppress(Exception):
                    scan = future.result()
                    self.file_hash = scan.sha256
            if isinstance(e, FileLoadError):
                message = str(e)
            elif isinstance(e, duckdb.InvalidInputException) and "is not latin-1 encoded" in str(e):
                message = _not_latin1(self.path, label)
            elif isinstance(e, duckdb.InvalidInputException) and "state machine reached an invalid state" in str(e):
                message = _unparsable(self.path, self.dialect.encoding, label)
            else:
                log.exception("%s: unexpected error loading %s", self.source.name, label)
                message = f"{label}: {type(e).__name__}: {e}"
            result = FileLoadResult(self.rel, self.file_hash, "failed", message=message)
            self._record(result)
            return result
        finally:
            if pool is not None:
                pool.shutdown(wait=True)  # a hash still running is finished before its temporary file goes
                if scan is None and future.done() and future.exception() is None:
                    scan = future.result()
            if scan is not None and scan.temporary:
                scan.path.unlink(missing_ok=True)
            self.timings["total"] = time.perf_counter() - started

    def _stat_unchanged(self) -> bool:
        """Same definition, size and mtime as when the last successful load hashed the file, and that hash was
        taken over :data:`_RACY_NS` after the mtime (so a rewrite since then would have changed the mtime)."""
        prev, st = self.previous, self.stat
        return (
            prev is not None
            and st is not None
            and prev.config_hash == self.config_hash
            and prev.file_hash is not None
            and prev.file_size == st.st_size
            and prev.file_mtime_ns == st.st_mtime_ns
            and prev.hashed_at_ns is not None
            and st.st_mtime_ns < prev.hashed_at_ns - _RACY_NS
        )

    def _native_encoding(self, label: str) -> tuple[str, str, str] | None:
        """(DuckDB encoding, Python text codec, codec name) when DuckDB reads the declared encoding itself."""
        try:
            codec = codecs.lookup(self.dialect.encoding).name
        except LookupError as e:
            raise FileLoadError(f"{label}: unknown encoding '{self.dialect.encoding}'") from e
        return (*_NATIVE[codec], codec) if codec in _NATIVE else None

    def file_loads_row(self, r: FileLoadResult) -> list[Any]:
        """This file's ``raw.file_loads`` row (columns of :data:`_FILE_LOADS_COLUMNS`)."""
        st = self.stat
        return [
            self.source.name, self.rel, r.file_hash, r.status, r.source_records, r.rows_loaded,
            r.rows_rejected, self.load_id, self.loaded_at, r.message, r.formula_errors,
            None if r.failed else self.config_hash,
            st.st_size if st is not None else None, st.st_mtime_ns if st is not None else None,
            None if r.failed else self.hashed_at_ns,
        ]  # fmt: skip

    def _record(self, r: FileLoadResult) -> None:
        """Append this file's ``raw.file_loads`` row (in the load's transaction, or on its own)."""
        _record_many(self.con, [self.file_loads_row(r)])

    # ---- header

    def _check_header(self, path: Path, text_encoding: str) -> int:
        """Compare the header with the declared columns; returns the physical lines the header spans (0: none)."""
        d = self.dialect
        declared = list(self.source.columns)
        with open(path, encoding=text_encoding, errors="replace", newline="") as fh:
            for n in range(d.skip_lines):
                if not fh.readline():
                    raise FileLoadError(f"{self.rel}: has {n} lines, fewer than skip_lines={d.skip_lines}")
            if not d.header:
                return 0
            reader = csv.reader(fh, delimiter=d.delimiter, quotechar=d.quote, doublequote=True)
            try:
                fields = next(reader)
            except StopIteration:
                raise FileLoadError(f"{self.rel}: no header line (line {d.skip_lines + 1})") from None
            header_lines = reader.line_num
        line = d.skip_lines + 1
        if not fields:
            raise FileLoadError(f"{self.rel}: line {line}: blank line where the header is expected")
        found = [normalize_header_name(f, d.quote) for f in fields]
        if found != declared:
            missing = [c for c in declared if c not in found]
            extra = [c for c in found if c not in declared]
            detail = [f"missing {missing}"] if missing else []
            detail += [f"unexpected {extra}"] if extra else []
            raise FileLoadError(
                f"{self.rel}: line {line}: header does not match the declared columns "
                f"({'; '.join(detail) or 'same names in another order'}): expected {declared}, found {found}"
            )
        return header_lines

    # ---- load

    def _load(
        self, path: Path, duck_encoding: str, get_scan: Callable[[], _Scan], header_lines: int, replacing: bool
    ) -> FileLoadResult:
        """Stage the file in temporary tables, then write ``raw.*`` in one transaction.

        ``path``/``duck_encoding`` are what DuckDB reads; ``get_scan`` returns the file's hash and line counts
        (possibly still being computed in a thread: it is called once they are needed).
        """
        con = self.con
        try:
            if self._direct_possible():
                t0 = time.perf_counter()
                direct = self._load_direct(path, duck_encoding, get_scan, header_lines, replacing)
                if direct is not None:
                    self.timings["write"] = time.perf_counter() - t0
                    return direct
                self.timings["direct_attempt"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            staged = self._stage(path, duck_encoding, get_scan, header_lines)
            t1 = time.perf_counter()
            self.timings["stage"] = t1 - t0
            con.execute("BEGIN TRANSACTION")
            try:
                result = self._write(staged, replacing)
                self._record(result)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            self.timings["write"] = time.perf_counter() - t1
            return result
        finally:
            for t in (_TYPED, _RECOVERED, _GAPS, _DUPS, _REJECTS_TABLE, _REJECTS_SCAN):
                con.execute(f"DROP TABLE IF EXISTS {t}")

    def _direct_possible(self) -> bool:
        """Whether :meth:`_load_direct` can load the file: a long layout without a ``catalog:`` mapping (the derived
        catalog and wide layouts read the staged rows more than once)."""
        return self.source.layout == Layout.long and self.source.catalog is None

    def _load_direct(
        self, path: Path, duck_encoding: str, get_scan: Callable[[], _Scan], header_lines: int, replacing: bool
    ) -> FileLoadResult | None:
        """Load a clean file in one pass: parse it straight into ``raw.metric_values__csv`` in its transaction.

        The pass stops at the first value that fails its type or is a spreadsheet error; after it, the file must
        have no line DuckDB could not split, no blank line or line break inside quotes (the line count equals the
        records inserted) and no duplicate record (distinct stored rows: equal records give equal rows, so a
        smaller count — also a mere hash collision — means "look closer"). Otherwise everything is rolled back and
        None returned: :meth:`_load` stages the file, whose extra passes find the details. Line numbers are
        ``row_number() OVER ()``, file order while insertion order is preserved. No staged copy is stored: this
        path costs about half the memory and CPU of staging.
        """
        con, s, d = self.con, self.source, self.dialect
        self.base = d.skip_lines + (1 if d.header else 0)
        read_sql, read_params = self._read_csv_sql(path, duck_encoding)
        metric, period = self._metric_period_sql("t")
        value = f"t.{self.by_name[s.value_column].value}"  # type: ignore[index]
        con.execute("BEGIN TRANSACTION")
        try:
            self._delete_previous()
            file_id = int(con.execute(f"SELECT nextval('raw.{METRIC_FILE_ID_SEQUENCE}')").fetchone()[0])  # type: ignore[index]
            with _setting(con, "preserve_insertion_order", True):
                inserted = con.execute(
                    f"INSERT INTO raw.{METRIC_CSV_TABLE} ({column_list(METRIC_CSV)}) "
                    f"SELECT CASE WHEN t.__bad OR t.__ferr THEN error({_lit(_STAGE)}) ELSE {file_id} END, {metric}, "
                    f"{period}, {self._dimension_sql()}, {value}, {self._target_sql()}, "
                    f"{self.base} + row_number() OVER () FROM ({self._typed_select(read_sql, 'NULL::BIGINT')}) t",
                    read_params,
                ).fetchone()[0]  # type: ignore[index]
            shape = con.execute(f"SELECT count(*) FROM {_REJECTS_TABLE}").fetchone()[0]  # type: ignore[index]
            scan = get_scan()
            lines = scan.physical_lines - scan.trailing_blank_lines - d.skip_lines - header_lines
            if not (
                inserted and not shape and inserted == lines and self._distinct_rows(file_id, inserted) == inserted
            ):
                con.execute("ROLLBACK")
                return None
            self._insert_file_row(file_id)
            status = "replaced" if replacing else "loaded"
            message = f"{inserted} of {inserted} records loaded"
            result = FileLoadResult(self.rel, self.file_hash, status, inserted, inserted, 0, inserted, message=message)
            self._record(result)
            con.execute("COMMIT")
            return result
        except duckdb.Error:
            con.execute("ROLLBACK")
            return None  # staging fails the file with the reason when the error was not _STAGE
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _distinct_rows(self, file_id: int, rows: int) -> int:
        """Distinct rows of the file in ``raw.metric_values__csv`` (by hash: the provenance columns excluded).

        Counted per hash partition of at most :data:`_DISTINCT_PARTITION` rows, one after the other: one hash
        table of 10M rows took 250 MB, more than the rest of the load; each extra partition costs a scan.
        """
        values = ", ".join(name for name, _ in METRIC_CSV if name not in ("file_id", "source_row"))
        parts = max(1, -(-rows // _DISTINCT_PARTITION))
        hashes = f"SELECT hash({values}) AS h FROM raw.{METRIC_CSV_TABLE} WHERE file_id = {int(file_id)}"
        counts = [f"(SELECT count(DISTINCT h) FROM ({hashes}) WHERE h % {parts} = {i})" for i in range(parts)]
        return self.con.execute("SELECT " + " + ".join(counts)).fetchone()[0]  # type: ignore[index]

    def _read_csv_sql(self, path: Path, duck_encoding: str) -> tuple[str, list[Any]]:
        d = self.dialect
        columns = "{" + ", ".join(f"'{c.raw}': 'VARCHAR'" for c in self.cols) + "}"
        sql = (
            f"read_csv(?, auto_detect = false, header = {str(d.header).lower()}, skip = {int(d.skip_lines)}, "
            f"columns = {columns}, delim = ?, quote = ?, escape = ?, nullstr = ?, allow_quoted_nulls = false, "
            f"strict_mode = true, store_rejects = true, rejects_table = '{_REJECTS_TABLE}', "
            f"rejects_scan = '{_REJECTS_SCAN}', encoding = ?)"
        )
        sentinel = "".join(c for c in _NULL_CANDIDATES if c not in (d.delimiter, d.quote))
        return sql, [str(path), d.delimiter, d.quote, d.quote, sentinel, duck_encoding]

    def _typed_select(self, from_sql: str, rline: str) -> str:
        """SELECT of the typed table from raw VARCHAR columns c0..cN.

        Output: ``v<i>`` (typed value, NULL for null tokens and error values), ``__bad`` (a value failed its
        type, or no metric/period), ``__ferr`` (an error value present), ``__raw`` (the raw fields, kept only for
        bad or error rows) and ``__rline`` (the line of a record recovered from DuckDB's rejects, else NULL).
        Token tests run only on values that did not parse (CASE evaluates its branches on the rows that reach
        them). The metric name and period are not stored (:meth:`_metric_period_sql` computes them where used),
        nor a row hash (the duplicate count hashes the values as it reads them): every stored column costs
        memory and time for each of millions of rows. The result must be materialised, never filtered in the
        same statement: DuckDB pushes a filter down through these projections by inlining them, which evaluates
        the parsing expressions twice (2x the CPU at 10M rows).
        """
        p = self.parser
        raws = ", ".join(c.raw for c in self.cols)
        typed = [c for c in self.cols if c.kind != ColumnType.varchar]
        text = [c for c in self.cols if c.kind == ColumnType.varchar]
        lvl1 = [f"{c.raw}, {p.value(c, c.raw)} AS x{c.index}" for c in typed]
        lvl1 += [f"{c.raw}, {p.is_error(c.raw)} AS e{c.index}" for c in text]
        lvl2 = [f"{c.raw}, x{c.index}, {p.exact(c, c.raw, f'x{c.index}')} AS g{c.index}" for c in typed]
        lvl2 += [f"{c.raw}, e{c.index}" for c in text]
        lvl3 = []
        for c in typed:
            i = c.index
            lvl3.append(
                f"{c.raw}, CASE WHEN g{i} THEN x{i} END AS {c.value}, "
                f"CASE WHEN g{i} THEN TRUE ELSE {p.is_null(c.raw)} OR {p.is_error(c.raw)} END AS ok{i}, "
                f"CASE WHEN g{i} THEN FALSE ELSE {p.is_error(c.raw)} END AS e{i}"
            )
        for c in text:
            i = c.index
            lvl3.append(f"{c.raw}, CASE WHEN e{i} OR {p.is_null(c.raw)} THEN NULL ELSE {c.raw} END AS {c.value}, e{i}")
        checks = [f"ok{c.index}" for c in typed]
        metric, period = self._metric_period_sql()
        checks += [f"({e}) IS NOT NULL" for e in (metric, period) if e is not None]
        bad = "NOT (" + " AND ".join(checks) + ")" if checks else "FALSE"
        ferr = " OR ".join(f"e{c.index}" for c in self.cols)
        values = ", ".join(c.value for c in self.cols)
        return (
            f"SELECT {values}, __bad, __ferr, CASE WHEN __bad OR __ferr THEN [{raws}] END AS __raw, __rline "
            f"FROM ("
            f"SELECT *, {bad} AS __bad, ({ferr}) AS __ferr FROM ("
            f"SELECT {', '.join(lvl3)}, __rline FROM ("
            f"SELECT {', '.join(lvl2)}, __rline FROM ("
            f"SELECT {', '.join(lvl1)}, {rline} AS __rline FROM {from_sql}))))"
        )

    def _stage(self, path: Path, duck_encoding: str, get_scan: Callable[[], _Scan], header_lines: int) -> _Staged:
        """Read the file into the typed temporary table and find its rejects, blank lines and duplicates.

        Runs outside the write transaction: temporary tables only, and their rowids are then 0-based positions.
        """
        con, d = self.con, self.dialect
        read_sql, read_params = self._read_csv_sql(path, duck_encoding)
        for t in (_REJECTS_TABLE, _REJECTS_SCAN):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        with _setting(con, "preserve_insertion_order", True):  # rowid = file order: line numbers depend on it
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {_TYPED} AS {self._typed_select(read_sql, 'NULL::BIGINT')}",
                read_params,
            )
        # One pass for every count. The distinct count is the price of exact duplicate detection (B30): a hash
        # aggregate over the values as they are read (no stored hash column).
        values = ", ".join(c.value for c in self.cols)
        row = con.execute(
            f"SELECT count(*), min(rowid), max(rowid), count(*) FILTER (WHERE NOT __bad), "
            f"count(*) FILTER (WHERE __bad), count(*) FILTER (WHERE __ferr AND NOT __bad), "
            f"count(DISTINCT hash({values})) FILTER (WHERE NOT __bad) FROM {_TYPED}"
        ).fetchone()
        scanned, first, last, good, bad, with_errors, distinct = row  # type: ignore[misc]
        if scanned and (first, last) != (0, scanned - 1):  # line numbers are rowid positions
            raise FileLoadError(f"{self.rel}: internal: staged rows are not numbered 0..{scanned - 1}")
        # DuckDB's rejects stay in SQL: a misconfigured file can have one per line
        struct_lines = con.execute(f"SELECT count(DISTINCT line) FROM {_REJECTS_TABLE}").fetchone()[0]  # type: ignore[index]
        recovered = self._recover() if struct_lines else 0
        records = scanned + struct_lines

        self.base = d.skip_lines + (1 if d.header else 0)  # a header is one line, however many it spans
        blank_lines = self._blank_lines(get_scan(), header_lines, records)
        if struct_lines or blank_lines:
            self._write_gaps(blank_lines)
        if recovered:  # recovered rows joined the typed table after the counts above
            good, bad, with_errors, distinct = con.execute(
                f"SELECT count(*) FILTER (WHERE NOT __bad), count(*) FILTER (WHERE __bad), "
                f"count(*) FILTER (WHERE __ferr AND NOT __bad), "
                f"count(DISTINCT hash({values})) FILTER (WHERE NOT __bad) FROM {_TYPED}"
            ).fetchone()  # type: ignore[misc]
        counts = _Counts(good, distinct, bad, with_errors)
        duplicates = self._find_duplicates() if counts.distinct < counts.good else 0
        return _Staged(records, recovered, blank_lines, counts, duplicates, struct_lines)

    def _write(self, st: _Staged, replacing: bool) -> FileLoadResult:
        """Inside the transaction: replace this file's rows, rejects and derived catalog; reconcile the counts."""
        con = self.con
        source_records = st.records + len(st.blank_lines)
        if st.records == 0:
            return FileLoadResult(
                self.rel, self.file_hash, "empty", source_records, 0, len(st.blank_lines),
                message="header only: no data for this period (earlier data kept)",
            )  # fmt: skip
        # Always delete: (source_name, source_file) is the key, whatever raw.file_loads remembers.
        self._delete_previous()
        written = self._insert_rows()
        if not st.clean:
            self._insert_rejects(st)
        formula_errors = self._insert_formula_errors() if st.counts.with_errors else 0
        if self.source.catalog is not None:
            self._insert_derived_catalog()

        loaded = st.counts.good - st.duplicates
        rejected = 0
        if not st.clean:
            rejected = con.execute(
                "SELECT count(DISTINCT line_number) FROM raw.rejects WHERE source_name = ? AND source_file = ? "
                "AND load_id = ?",
                [self.source.name, self.rel, self.load_id],
            ).fetchone()[0]  # type: ignore[index]
        if loaded + rejected != source_records:
            raise FileLoadError(
                f"{self.rel}: reconciliation failed: {source_records} records in the file but {loaded} loaded + "
                f"{rejected} rejected"
            )
        if loaded == 0:
            raise FileLoadError(
                f"{self.rel}: all {source_records} records rejected (earlier data kept): {self._first_reasons()}"
            )
        parts = [f"{loaded} of {source_records} records loaded"]
        if written != loaded:
            parts.append(f"{written} values written")
        if rejected:
            parts.append(f"{rejected} rejected ({self._first_reasons()})")
        if st.duplicates:
            parts.append(f"{st.duplicates} duplicate records loaded once")
        if formula_errors:
            parts.append(f"{formula_errors} formula errors loaded as NULL ({self._formula_summary()})")
        parts += self.notes
        return FileLoadResult(
            self.rel, self.file_hash, "replaced" if replacing else "loaded", source_records, loaded, rejected,
            written, formula_errors, st.duplicates, "; ".join(parts),
        )  # fmt: skip

    # ---- records DuckDB rejected for their shape

    def _recover(self) -> int:
        """Load records whose only fault is empty extra fields (a trailing delimiter); returns how many.

        DuckDB reports such a line once per extra field; it is recovered when every error on the line is TOO MANY
        COLUMNS and every extra field is empty. Recovered rows carry their line in ``__rline``.
        """
        d = self.dialect
        n = len(self.cols)
        candidates = self.con.execute(
            f"SELECT line, any_value(csv_line) FROM {_REJECTS_TABLE} GROUP BY line "
            f"HAVING bool_and(error_type = 'TOO MANY COLUMNS') ORDER BY line"
        ).fetchall()
        rows = []
        for line, csv_line in candidates:
            try:
                fields = next(
                    csv.reader(io.StringIO((csv_line or "").strip("\r\n")), delimiter=d.delimiter, quotechar=d.quote)
                )
            except (csv.Error, StopIteration):
                continue
            if len(fields) > n and all(f.strip() == "" for f in fields[n:]):
                rows.append([*fields[:n], line])
        cols = ", ".join(f"{c.raw} VARCHAR" for c in self.cols)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {_RECOVERED} ({cols}, __rline BIGINT)")
        if rows:
            frame = pd.DataFrame(rows, columns=[*(c.raw for c in self.cols), "__rline"], dtype=object)
            self.con.register("__kpi_align_recovered_frame", frame)
            try:
                self.con.execute(f"INSERT INTO {_RECOVERED} SELECT * FROM __kpi_align_recovered_frame")
            finally:
                self.con.unregister("__kpi_align_recovered_frame")
            self.con.execute(f"INSERT INTO {_TYPED} {self._typed_select(_RECOVERED, '__rline')}")
        return len(rows)

    # ---- blank lines and the line-count reconciliation

    def _blank_lines(self, scan: _Scan, header_lines: int, records: int) -> list[int]:
        """Line numbers of blank lines between records (DuckDB skips them silently).

        The file's physical lines must equal banner + header lines + records + line breaks inside quoted fields +
        blank lines; only when the cheap count disagrees are the line breaks counted and the blank lines located.
        """
        d = self.dialect
        content_lines = scan.physical_lines - scan.trailing_blank_lines
        unexplained = content_lines - d.skip_lines - header_lines - records
        if unexplained == 0:
            return []
        embedded = self._embedded_newlines()
        blanks = unexplained - embedded
        if blanks < 0:
            raise FileLoadError(
                f"{self.rel}: reconciliation failed: {content_lines} lines in the file, but DuckDB returned "
                f"{records} records spanning {records + embedded} lines after {d.skip_lines + header_lines} "
                "banner/header lines (mixed or CR-only line endings?)"
            )
        if blanks == 0:
            return []
        if embedded == 0:  # no multi-line fields: physical line numbers are the record line numbers
            found = _blank_lines_by_bytes(scan.path, d.skip_lines + header_lines + 1, content_lines)
        else:
            found = self._blank_lines_by_csv(scan)
        if len(found) != blanks:
            raise FileLoadError(
                f"{self.rel}: reconciliation failed: {blanks} lines unaccounted for, {len(found)} blank lines found"
            )
        return found

    def _embedded_newlines(self) -> int:
        """Line breaks inside quoted fields (of loaded, rejected and DuckDB-rejected records)."""
        newlines = "lambda x: length(x) - length(replace(x, chr(10), ''))"
        text_cols = [c.value for c in self.cols if c.kind == ColumnType.varchar]
        plain = " + ".join(f"coalesce(length({v}) - length(replace({v}, chr(10), '')), 0)" for v in text_cols)
        in_typed = self.con.execute(
            f"SELECT coalesce(sum(CASE WHEN __raw IS NOT NULL THEN list_sum(list_transform(__raw, {newlines})) "
            f"ELSE {plain or '0'} END), 0) FROM {_TYPED} WHERE __rline IS NULL"
        ).fetchone()[0]  # type: ignore[index]
        # a DuckDB reject's raw text is the whole record (one per line, however many errors it has)
        in_rejects = self.con.execute(
            f"SELECT coalesce(sum(length(raw) - length(replace(raw, chr(10), ''))), 0) FROM ("
            f"SELECT trim(any_value(csv_line), chr(13) || chr(10)) AS raw FROM {_REJECTS_TABLE} GROUP BY line)"
        ).fetchone()[0]  # type: ignore[index]
        return int(in_typed) + int(in_rejects)

    def _blank_lines_by_csv(self, scan: _Scan) -> list[int]:
        """Blank-line numbers found by Python's csv reader (only for files with multi-line fields and blanks)."""
        d = self.dialect
        found: list[int] = []
        last_content = 0
        with open(scan.path, encoding=scan.text_encoding, errors="replace", newline="") as fh:
            for _ in range(d.skip_lines):
                fh.readline()
            reader = csv.reader(fh, delimiter=d.delimiter, quotechar=d.quote, doublequote=True)
            for i, record in enumerate(reader):
                line = d.skip_lines + i + 1
                if record:
                    last_content = line
                elif i > 0 or not d.header:
                    found.append(line)
        return [n for n in found if n < last_content]

    # ---- line numbers of the typed rows

    def _write_gaps(self, blank_lines: list[int]) -> None:
        """Store the lines missing from the scan (DuckDB rejects, blank lines) as rowid thresholds.

        A scanned row's line is ``base + rowid + 1 + k`` where k counts the gaps before it; with gaps sorted and
        ranked from 1, row ``r`` is after gap ``i`` exactly when ``r >= gap_i - base - i``.
        """
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_GAPS} AS SELECT g - {self.base} - k AS t, max(k) AS k FROM ("
            f"SELECT g, row_number() OVER (ORDER BY g) AS k FROM ("
            f"SELECT DISTINCT line AS g FROM {_REJECTS_TABLE} UNION SELECT unnest(?::BIGINT[]))) GROUP BY 1",
            [blank_lines],
        )
        self.has_gaps = self.con.execute(f"SELECT count(*) FROM {_GAPS}").fetchone()[0] > 0  # type: ignore[index]

    def _frm(self, t: str = "t", g: str = "g") -> str:
        """FROM clause: the typed table as ``t`` (with its gap thresholds as ``g``)."""
        if self.has_gaps:
            return f"{_TYPED} {t} ASOF LEFT JOIN {_GAPS} {g} ON {t}.rowid >= {g}.t"
        return f"{_TYPED} {t}"

    def _line(self, t: str = "t", g: str = "g") -> str:
        """SQL of a typed row's line number (needs :meth:`_frm` with the same aliases)."""
        gap = f" + coalesce({g}.k, 0)" if self.has_gaps else ""
        return f"coalesce({t}.__rline, {self.base} + {t}.rowid + 1{gap})"

    def _good(self) -> str:
        """WHERE condition of the rows to load: well-formed and not a later copy of a duplicate."""
        return "NOT t.__bad" + (f" AND t.rowid NOT IN (SELECT r FROM {_DUPS})" if self.has_dups else "")

    # ---- duplicates

    def _find_duplicates(self) -> int:
        """Mark duplicate records (every parsed value equal) after their first occurrence; returns how many."""
        values = ", ".join(c.value for c in self.cols)
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_DUPS} AS SELECT r, first_r FROM ("
            f"SELECT rowid AS r, min(rowid) OVER (PARTITION BY {values}) AS first_r FROM {_TYPED} "
            f"WHERE NOT __bad AND hash({values}) IN "
            f"(SELECT hash({values}) FROM {_TYPED} WHERE NOT __bad GROUP BY 1 HAVING count(*) > 1)"
            f") WHERE r <> first_r"
        )
        n = self.con.execute(f"SELECT count(*) FROM {_DUPS}").fetchone()[0]  # type: ignore[index]
        self.has_dups = n > 0
        return n

    # ---- writes

    def _delete_previous(self) -> None:
        s, con = self.source, self.con
        key = [s.name, self.rel]
        if self.metric_layout:
            # the file's ids from the small file table, then a delete the row groups' min/max file_id can prune
            ids = [r[0] for r in con.execute(
                f"SELECT file_id FROM raw.{METRIC_FILES_TABLE} WHERE source_name = ? AND source_file = ?", key
            ).fetchall()]  # fmt: skip
            if ids:
                con.execute(f"DELETE FROM raw.{METRIC_CSV_TABLE} WHERE file_id IN ({', '.join(map(str, ids))})")
                con.execute(f"DELETE FROM raw.{METRIC_FILES_TABLE} WHERE file_id IN ({', '.join(map(str, ids))})")
            # rows a loader before the compact storage wrote (only when that table holds anything: count(*) of a
            # whole table is read from its metadata)
            if con.execute(f"SELECT count(*) FROM raw.{METRIC_ROWS_TABLE}").fetchone()[0]:  # type: ignore[index]
                con.execute(f"DELETE FROM raw.{METRIC_ROWS_TABLE} WHERE source_name = ? AND source_file = ?", key)
        else:
            target = quote_ident(s.raw_table.removeprefix("raw."))
            con.execute(f"DELETE FROM raw.{target} WHERE source_name = ? AND source_file = ?", key)
        for table in ("rejects", "formula_errors"):
            con.execute(f"DELETE FROM raw.{table} WHERE source_name = ? AND source_file = ?", key)
        for table in SOURCE_CATALOG_TABLES:
            con.execute(f"DELETE FROM raw.{table} WHERE source_name = ? AND catalog_file = ?", key)

    def _insert_rows(self) -> int:
        """Insert the good rows into the raw table; returns the number of rows written."""
        s, con = self.source, self.con
        frm, line, good = self._frm(), self._line(), self._good()
        name, file_, hash_, load, at = self.source.name, self.rel, self.file_hash, self.load_id, self.loaded_at
        if self.metric_layout:
            file_id = con.execute(f"SELECT nextval('raw.{METRIC_FILE_ID_SEQUENCE}')").fetchone()[0]  # type: ignore[index]
            self._insert_file_row(file_id)
        with _setting(con, "preserve_insertion_order", False):  # source_row carries the order: insert in parallel
            if s.layout == Layout.table:
                table = quote_ident(s.raw_table.removeprefix("raw."))
                values = ", ".join(f"t.{c.value}" for c in self.cols)
                sql = (
                    f"INSERT INTO raw.{table} ({column_list(source_table_columns(s))}) "
                    f"SELECT {values}, ?, ?, ?, {line}, ?, ? FROM {frm} WHERE {good}"
                )
                return con.execute(sql, [name, file_, hash_, load, at]).fetchone()[0]  # type: ignore[index]
            dimension, target = self._dimension_sql(), self._target_sql()
            selects: list[str] = []
            params: list[Any] = []

            def add(metric: str, period: str, value: str, param: list[Any], only_present: bool) -> None:
                # `param` is the one value bound by `metric` or `period` (a wide metric name or period date)
                where = f"{good} AND {value} IS NOT NULL" if only_present else good
                selects.append(
                    f"SELECT {int(file_id)}, {metric}, {period}, {dimension}, {value}, {target}, {line} "
                    f"FROM {frm} WHERE {where}"
                )
                params.extend(param)

            t_metric, t_period = self._metric_period_sql("t")
            if s.layout == Layout.long:
                add(t_metric, t_period, f"t.{self.by_name[s.value_column].value}", [], False)  # type: ignore[arg-type,index]
            elif s.period_columns:
                for column, period in s.period_columns.items():
                    add(t_metric, "CAST(? AS DATE)", f"t.{self.by_name[column].value}", [period], True)  # type: ignore[arg-type]
            else:
                for metric, column in s.metric_columns.items():
                    add("?", t_period, f"t.{self.by_name[column].value}", [metric], True)  # type: ignore[arg-type]
            sql = f"INSERT INTO raw.{METRIC_CSV_TABLE} ({column_list(METRIC_CSV)}) " + " UNION ALL ".join(selects)
            return con.execute(sql, params).fetchone()[0]  # type: ignore[index]

    def _insert_file_row(self, file_id: int) -> None:
        """The file's provenance row in ``raw.metric_values__files`` (its rows carry only ``file_id``)."""
        self.con.execute(
            f"INSERT INTO raw.{METRIC_FILES_TABLE} (file_id, source_name, source_file, file_hash, load_id, "
            "loaded_at) VALUES (?, ?, ?, ?, ?, ?)",
            [file_id, self.source.name, self.rel, self.file_hash, self.load_id, self.loaded_at],
        )

    def _dimension_sql(self) -> str:
        """SQL of a typed row ``t``'s dimension ('*' when the layout or the row has none)."""
        column = self.source.dimension_column
        return f"coalesce(CAST(t.{self.by_name[column].value} AS VARCHAR), '*')" if column else "'*'"

    def _target_sql(self) -> str:
        column = self.source.target_column
        return f"t.{self.by_name[column].value}" if column else "NULL"

    def _raw_line_sql(self, raw_list: str) -> str:
        """Rebuild a CSV line from a list of field texts (quoting fields that need it)."""
        d = self.dialect
        q, sep = _lit(d.quote), _lit(d.delimiter)
        quoted = (
            f"lambda x: CASE WHEN contains(x, {sep}) OR contains(x, {q}) OR contains(x, chr(10)) "
            f"OR contains(x, chr(13)) THEN {q} || replace(x, {q}, {q} || {q}) || {q} ELSE x END"
        )
        return f"array_to_string(list_transform({raw_list}, {quoted}), {sep})"

    def _insert_rejects(self, st: _Staged) -> None:
        """Write every rejected record to ``raw.rejects`` (one row per failing field)."""
        con, s, p = self.con, self.source, self.parser
        blank_lines, counts = st.blank_lines, st.counts
        into = f"INSERT INTO raw.rejects ({column_list(REJECTS)})"
        head = [s.name, self.rel, self.file_hash]
        tail = [self.load_id, self.loaded_at]
        frm, line = self._frm(), self._line()
        # 1. lines DuckDB could not split into the declared fields (columns c<i> named as declared)
        names = [c.name for c in self.cols]
        if st.shape_rejects:
            recovered = f" WHERE r.line NOT IN (SELECT __rline FROM {_RECOVERED})" if st.recovered else ""
            con.execute(
                f"{into} SELECT ?, ?, ?, r.line, coalesce(list_extract(?::VARCHAR[], "
                f"TRY_CAST(substr(r.column_name, 2) AS INTEGER) + 1), r.column_name), "
                f"lower(r.error_type) || ': ' || r.error_message, trim(r.csv_line, chr(13) || chr(10)), ?, ? "
                f"FROM {_REJECTS_TABLE} r{recovered}",
                [*head, names, *tail],
            )
        # 2. blank lines between records
        if blank_lines:
            con.execute(
                f"{into} SELECT ?, ?, ?, unnest(?::BIGINT[]), NULL, 'blank line', '', ?, ?",
                [*head, blank_lines, *tail],
            )
        if counts.bad:
            raw_line = self._raw_line_sql("t.__raw")

            def ok(c: _Col) -> str:
                return p.accepted(c, f"t.__raw[{c.index + 1}]")

            # 2. values that failed their type: one reject per failing field
            for c in self.cols:
                if c.kind != ColumnType.varchar:
                    con.execute(
                        f"{into} SELECT ?, ?, ?, {line}, ?, ? || ': ' || t.__raw[{c.index + 1}], {raw_line}, ?, ? "
                        f"FROM {frm} WHERE t.__bad AND NOT {ok(c)}",
                        [*head, c.name, p.reason(c), *tail],
                    )
            # 3. records whose fields all parsed but that name no metric or no (valid) period
            all_ok = " AND ".join(ok(c) for c in self.cols)
            metric, period = self._metric_period_sql("t")
            for expr, column, reason in (
                (metric, s.metric_column, "metric name missing"),
                (period, self._period_field(), "period date missing or invalid"),
            ):
                if expr is not None:
                    con.execute(
                        f"{into} SELECT ?, ?, ?, {line}, ?, ?, {raw_line}, ?, ? FROM {frm} "
                        f"WHERE t.__bad AND {expr} IS NULL AND {all_ok}",
                        [*head, column, reason, *tail],
                    )
        if self.has_dups:
            # 4. exact duplicates: loaded once, later copies rejected (raw line rebuilt from the parsed values)
            values = ", ".join(f"coalesce(CAST(t.{c.value} AS VARCHAR), '')" for c in self.cols)
            first_lines = f"SELECT f.rowid AS r, {self._line('f', 'fg')} AS line FROM {self._frm('f', 'fg')}"
            con.execute(
                f"{into} SELECT ?, ?, ?, {line}, NULL, 'duplicate row (same as line ' || fl.line || ')', "
                f"{self._raw_line_sql(f'[{values}]')}, ?, ? FROM {frm} JOIN {_DUPS} d ON d.r = t.rowid "
                f"JOIN ({first_lines}) fl ON fl.r = d.first_r",
                [*head, *tail],
            )

    def _insert_formula_errors(self) -> int:
        """List each error-valued cell of a loaded row in ``raw.formula_errors``; returns the number of cells."""
        con, p = self.con, self.parser
        frm, line, good = self._frm(), self._line(), self._good()
        into = f"INSERT INTO raw.formula_errors ({column_list(FORMULA_ERRORS)})"
        n = 0
        for c in self.cols:
            raw = f"t.__raw[{c.index + 1}]"
            n += con.execute(
                f"{into} SELECT ?, ?, ?, {line}, ?, {raw}, ?, ? FROM {frm} "
                f"WHERE {good} AND t.__ferr AND {p.is_error(raw)}",
                [self.source.name, self.rel, self.file_hash, c.name, self.load_id, self.loaded_at],
            ).fetchone()[0]  # type: ignore[index]
        return n

    # ---- catalog entries derived from the file

    def _insert_derived_catalog(self) -> None:
        """Write the KPIs, objectives, links and metric names of the source's ``catalog:`` mapping."""
        s, con = self.source, self.con
        m = s.catalog
        assert m is not None

        def text(column: str | None) -> str:
            if column is None:
                return "NULL::VARCHAR"
            # catalog text is compared and shown trimmed of all whitespace, like the YAML catalog's models
            return f"NULLIF(trim(CAST(t.{self.by_name[column].value} AS VARCHAR), {_WHITESPACE}), '')"

        levels = [text(c) for c in m.objective_columns]
        objective_cols = ""
        for j, level in enumerate(levels):
            present = " AND ".join(f"{lv} IS NOT NULL" for lv in levels[: j + 1])
            path = ", ".join(levels[: j + 1])
            objective_cols += (
                f", {level} AS o{j}, CASE WHEN {present} THEN ? || ':' || "
                f"substr(sha256(concat_ws(chr(31), {path})), 1, 16) END AS oid{j}"
            )
        t_metric, t_period = self._metric_period_sql("t")
        period = "NULL::DATE" if s.period_columns else t_period
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_ROWS} AS SELECT {text(m.kpi_id)} AS kid, "
            f"{text(m.kpi_name)} AS nm, {text(m.description)} AS descr, {text(m.unit)} AS unit, "
            f"{text(m.parent_kpi)} AS parent, {text(m.direction)} AS dircode, {text(m.owner)} AS owner, "
            f"{t_metric or 'NULL::VARCHAR'} AS metric, {period or 'NULL::DATE'} AS period, "
            f"{self._line()} AS ln{objective_cols} "
            f"FROM {self._frm()} WHERE {self._good()}",
            [s.name] * len(levels),
        )
        try:
            self._derive(len(levels))
        finally:
            for t in (_ROWS, _KPIS, _DIRMAP):
                con.execute(f"DROP TABLE IF EXISTS {t}")

    def _derive(self, depth: int) -> None:
        s, con = self.source, self.con
        m = s.catalog
        assert m is not None
        latest = "{'p': coalesce(period, DATE '0001-01-01'), 'l': ln}"  # a KPI's attributes: its latest row
        first_period = (
            min(s.period_columns.values())
            if s.period_columns
            else con.execute(f"SELECT min(period) FROM {_ROWS}").fetchone()[0]  # type: ignore[index]
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE {_DIRMAP} (code VARCHAR, direction VARCHAR)")
        if m.direction_map:
            con.executemany(f"INSERT INTO {_DIRMAP} VALUES (?, ?)", list(m.direction_map.items()))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_KPIS} AS SELECT kid, "
            f"coalesce(arg_max(nm, {latest}) FILTER (WHERE nm IS NOT NULL), kid) AS nm, "
            f"coalesce(arg_max(descr, {latest}) FILTER (WHERE descr IS NOT NULL), '') AS descr, "
            f"coalesce(arg_max(unit, {latest}) FILTER (WHERE unit IS NOT NULL), '') AS unit, "
            f"arg_max(parent, {latest}) AS parent, arg_max(dircode, {latest}) AS dircode, "
            f"arg_max(owner, {latest}) FILTER (WHERE owner IS NOT NULL) AS owner "
            f"FROM {_ROWS} WHERE kid IS NOT NULL GROUP BY kid"
        )
        name, file_ = s.name, self.rel
        none = list(m.parent_kpi_none)
        # A parent id that names no KPI of this file is kept as written: dbt reports it (parent_kpi_missing).
        named_parent = "k.parent IS NOT NULL AND NOT list_contains(?, k.parent)"
        con.execute(
            "INSERT INTO raw.source_kpis (source_name, kpi_id, name, description, unit, direction, aggregation, "
            "grain, owner, status, parent_kpi_id, expected_within_days, catalog_file) "
            f"SELECT ?, k.kid, k.nm, k.descr, k.unit, coalesce(dm.direction, ?), ?, ?, coalesce(k.owner, ?), "
            f"'active', CASE WHEN {named_parent} THEN k.parent END, NULL, ? "
            f"FROM {_KPIS} k LEFT JOIN {_DIRMAP} dm ON dm.code = k.dircode",
            [name, m.default_direction, m.aggregation, m.grain, m.default_owner, none, file_],
        )
        con.execute(
            "INSERT INTO raw.source_kpi_metrics (source_name, kpi_id, metric_name, role, catalog_file) "
            f"SELECT DISTINCT ?, kid, metric, 'value', ? FROM {_ROWS} WHERE kid IS NOT NULL AND metric IS NOT NULL",
            [name, file_],
        )
        for j in range(depth):
            parent = f"oid{j - 1}" if j else "NULL::VARCHAR"
            con.execute(
                "INSERT INTO raw.source_objectives (source_name, objective_id, name, description, level, "
                "parent_objective_id, owner, time_frame_start, time_frame_end, status, catalog_file) "
                f"SELECT DISTINCT ?, oid{j}, o{j}, '', ?, {parent}, ?, ?, NULL, 'active', ? FROM {_ROWS} "
                f"WHERE oid{j} IS NOT NULL",
                [name, "strategic" if j == 0 else "operational", m.default_owner, first_period, file_],
            )
        if depth:
            deepest = "coalesce(" + ", ".join(f"oid{j}" for j in reversed(range(depth))) + ")"
            con.execute(
                "INSERT INTO raw.source_kpi_links (source_name, kpi_id, objective_id, weight, informational, "
                "valid_from, valid_to, catalog_file) "
                f"SELECT DISTINCT ?, kid, {deepest}, 1.0, FALSE, NULL, NULL, ? FROM {_ROWS} "
                f"WHERE kid IS NOT NULL AND {deepest} IS NOT NULL",
                [name, file_],
            )
        # what the mapping could not take as given is reported, not hidden
        if m.direction is not None:
            codes, n = con.execute(
                f"SELECT list(DISTINCT coalesce(dircode, '(empty)') ORDER BY 1), count(*) FROM {_KPIS} k "
                f"WHERE NOT EXISTS (SELECT 1 FROM {_DIRMAP} dm WHERE dm.code = k.dircode)"
            ).fetchone()  # type: ignore[misc]
            if n:
                self.notes.append(f"{n} KPIs with direction codes {codes} got {m.default_direction}")
        parents, n = con.execute(
            f"SELECT list(DISTINCT k.parent ORDER BY 1), count(*) FROM {_KPIS} k WHERE k.parent IS NOT NULL "
            f"AND NOT list_contains(?, k.parent) AND NOT EXISTS (SELECT 1 FROM {_KPIS} p WHERE p.kid = k.parent)",
            [none],
        ).fetchone()  # type: ignore[misc]
        if n:
            self.notes.append(f"{n} KPIs name parents that are no KPI of this file ({parents})")

    # ---- message helpers

    def _first_reasons(self) -> str:
        rows = self.con.execute(
            "SELECT line_number, field, reason FROM raw.rejects WHERE source_name = ? AND source_file = ? "
            "AND load_id = ? ORDER BY line_number, field NULLS FIRST LIMIT ?",
            [self.source.name, self.rel, self.load_id, _SHOWN_REASONS],
        ).fetchall()
        return "; ".join(f"line {ln}" + (f" {f}" if f else "") + f": {r}" for ln, f, r in rows)

    def _formula_summary(self) -> str:
        rows = self.con.execute(
            "SELECT error_value, count(*) FROM raw.formula_errors WHERE source_name = ? AND source_file = ? "
            "AND load_id = ? GROUP BY 1 ORDER BY 2 DESC, 1",
            [self.source.name, self.rel, self.load_id],
        ).fetchall()
        return ", ".join(f"{v} x{n}" for v, n in rows)
