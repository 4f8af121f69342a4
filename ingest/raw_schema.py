"""DDL of every table ingest writes: ``raw.*`` (sources) and ``catalog.*`` (the YAML strategy catalog).

The column lists below are the contract of ``docs/architecture.md``; each is defined once and reused:
``raw.source_objectives`` / ``raw.source_kpis`` / ``raw.source_kpi_links`` / ``raw.source_kpi_metrics`` are the
``catalog.*`` columns plus ``source_name`` (and ``catalog_file`` where ``catalog.*`` has none, because derived
entries are replaced per source file).

Everything is idempotent: ``CREATE ... IF NOT EXISTS`` and ``ADD COLUMN IF NOT EXISTS``. That also covers a
table another loader created first with only the contract columns (the HTTP loader creates
``raw.file_loads``): the columns this module adds beyond the contract (``raw.file_loads.formula_errors`` /
``config_hash`` / ``file_size`` / ``file_mtime_ns`` / ``hashed_at_ns``) are appended, never reordered.

``raw.metric_values`` is a view with the contract's columns over compact storage (issue 8: provenance strings
repeated on every row made a 10M-row load ~1.8x slower than DuckDB's own ``CREATE TABLE AS read_csv``):

* ``raw.metric_values__csv`` — rows of CSV ``long``/``wide`` sources: ``file_id BIGINT`` instead of the five
  provenance columns, plus the metric shape and ``source_row``;
* ``raw.metric_values__files`` — one row per file whose rows are loaded: ``file_id`` → ``source_name,
  source_file, file_hash, load_id, loaded_at`` (replaced together with the file's rows);
* ``raw.metric_values__rows`` — the contract's columns on every row, for writers that have no files (the HTTP
  loader writes here: :func:`storage_table`). A warehouse created before this change has its
  ``raw.metric_values`` table renamed to this on first use, so nothing already loaded is lost.

Readers (dbt staging, GX batches, tests) query ``raw.metric_values`` and see one table; writers use
:func:`storage_table`. Table-layout sources (``raw.<table>``) keep their provenance columns on every row.
"""

from __future__ import annotations

import duckdb

from kpi_alignment.sources import PROVENANCE_COLUMNS, ColumnType, CsvSource, Layout, sql_column_name

Columns = tuple[tuple[str, str], ...]

DUCKDB_TYPES: dict[str, str] = {
    ColumnType.varchar.value: "VARCHAR",
    ColumnType.integer.value: "BIGINT",  # 64-bit: counts and ids never overflow a 32-bit INTEGER silently
    ColumnType.double.value: "DOUBLE",
    ColumnType.date.value: "DATE",
    ColumnType.timestamp.value: "TIMESTAMP",
    ColumnType.boolean.value: "BOOLEAN",
}

PROVENANCE_DDL: Columns = (
    ("source_name", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("file_hash", "VARCHAR"),
    ("source_row", "BIGINT"),
    ("load_id", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
)
assert tuple(c for c, _ in PROVENANCE_DDL) == PROVENANCE_COLUMNS

METRIC_VALUES: Columns = (
    ("source_name", "VARCHAR"),
    ("metric_name", "VARCHAR"),
    ("period_date", "DATE"),
    ("dimension", "VARCHAR NOT NULL DEFAULT '*'"),
    ("value", "DOUBLE"),
    ("target_value", "DOUBLE"),
    ("source_file", "VARCHAR"),
    ("file_hash", "VARCHAR"),
    ("source_row", "BIGINT"),
    ("load_id", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
)
FILE_LOADS: Columns = (
    ("source_name", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("file_hash", "VARCHAR"),
    ("status", "VARCHAR"),  # loaded | unchanged | replaced | empty | failed
    ("source_records", "BIGINT"),
    ("rows_loaded", "BIGINT"),
    ("rows_rejected", "BIGINT"),
    ("load_id", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
    ("message", "VARCHAR"),
)
FILE_LOADS_EXTRA: Columns = (
    ("formula_errors", "BIGINT"),  # spreadsheet error values loaded as NULL (B13)
    ("config_hash", "VARCHAR"),  # sha256 of the source definition: a changed dialect re-reads an unchanged file
    # The file's size and modification time (ns since the epoch) when its hash was taken, and when that was (ns):
    # a file whose size and mtime are unchanged since a hash taken well after that mtime is not hashed again.
    ("file_size", "BIGINT"),
    ("file_mtime_ns", "BIGINT"),
    ("hashed_at_ns", "BIGINT"),
)
REJECTS: Columns = (
    ("source_name", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("file_hash", "VARCHAR"),
    ("line_number", "BIGINT"),
    ("field", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("raw_line", "VARCHAR"),
    ("load_id", "VARCHAR"),
    ("rejected_at", "TIMESTAMP"),
)
FORMULA_ERRORS: Columns = (
    ("source_name", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("file_hash", "VARCHAR"),
    ("line_number", "BIGINT"),
    ("field", "VARCHAR"),
    ("error_value", "VARCHAR"),
    ("load_id", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
)

OBJECTIVES: Columns = (
    ("objective_id", "VARCHAR"),
    ("name", "VARCHAR"),
    ("description", "VARCHAR"),
    ("level", "VARCHAR"),
    ("parent_objective_id", "VARCHAR"),
    ("owner", "VARCHAR"),
    ("time_frame_start", "DATE"),
    ("time_frame_end", "DATE"),
    ("status", "VARCHAR"),
    ("catalog_file", "VARCHAR"),
)
KPIS: Columns = (
    ("kpi_id", "VARCHAR"),
    ("name", "VARCHAR"),
    ("description", "VARCHAR"),
    ("unit", "VARCHAR"),
    ("direction", "VARCHAR"),
    ("aggregation", "VARCHAR"),
    ("grain", "VARCHAR"),
    ("owner", "VARCHAR"),
    ("status", "VARCHAR"),
    ("parent_kpi_id", "VARCHAR"),
    ("expected_within_days", "INTEGER"),
    ("catalog_file", "VARCHAR"),
)
# catalog.kpis only: a KPI's own RAG thresholds (catalog `rag:` block); sources derive none, so raw.source_kpis
# keeps KPIS (dbt reads these columns only where they exist).
CATALOG_KPIS: Columns = (*KPIS, ("rag_green_at", "DOUBLE"), ("rag_amber_at", "DOUBLE"))
KPI_METRICS: Columns = (("kpi_id", "VARCHAR"), ("metric_name", "VARCHAR"), ("role", "VARCHAR"))
KPI_LINKS: Columns = (
    ("kpi_id", "VARCHAR"),
    ("objective_id", "VARCHAR"),
    ("weight", "DOUBLE"),
    ("informational", "BOOLEAN"),
    ("valid_from", "DATE"),
    ("valid_to", "DATE"),
)
TARGETS: Columns = (
    ("kpi_id", "VARCHAR"),
    ("period_start", "DATE"),
    ("period_end", "DATE"),
    ("target_type", "VARCHAR"),
    ("target_value", "DOUBLE"),
    ("lower_value", "DOUBLE"),
    ("upper_value", "DOUBLE"),
    ("baseline_value", "DOUBLE"),
)
RUN_CONTEXT: Columns = (
    ("evaluation_date", "DATE"),
    ("catalog_revision", "VARCHAR"),
    ("project_name", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
)

CATALOG_TABLES: dict[str, Columns] = {
    "objectives": OBJECTIVES,
    "kpis": CATALOG_KPIS,
    "kpi_metrics": KPI_METRICS,
    "kpi_links": KPI_LINKS,
    "targets": TARGETS,
    "run_context": RUN_CONTEXT,
}

_SOURCE_NAME: Columns = (("source_name", "VARCHAR"),)
_CATALOG_FILE: Columns = (("catalog_file", "VARCHAR"),)
# Storage behind the raw.metric_values view (see the module docstring).
METRIC_VALUES_VIEW = "metric_values"
METRIC_ROWS_TABLE = "metric_values__rows"
METRIC_CSV_TABLE = "metric_values__csv"
METRIC_FILES_TABLE = "metric_values__files"
METRIC_FILE_ID_SEQUENCE = "metric_values__file_id"
METRIC_CSV: Columns = (
    ("file_id", "BIGINT NOT NULL"),
    ("metric_name", "VARCHAR"),
    ("period_date", "DATE"),
    ("dimension", "VARCHAR NOT NULL DEFAULT '*'"),
    ("value", "DOUBLE"),
    ("target_value", "DOUBLE"),
    ("source_row", "BIGINT"),
)
METRIC_FILES: Columns = (
    ("file_id", "BIGINT NOT NULL"),
    ("source_name", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("file_hash", "VARCHAR"),
    ("load_id", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
)
_FILE_PROVENANCE = ("source_name", "source_file", "file_hash", "load_id", "loaded_at")

RAW_TABLES: dict[str, Columns] = {
    METRIC_ROWS_TABLE: METRIC_VALUES,
    METRIC_CSV_TABLE: METRIC_CSV,
    METRIC_FILES_TABLE: METRIC_FILES,
    "file_loads": FILE_LOADS + FILE_LOADS_EXTRA,
    "rejects": REJECTS,
    "formula_errors": FORMULA_ERRORS,
    "source_objectives": _SOURCE_NAME + OBJECTIVES,
    "source_kpis": _SOURCE_NAME + KPIS,
    "source_kpi_links": _SOURCE_NAME + KPI_LINKS + _CATALOG_FILE,
    "source_kpi_metrics": _SOURCE_NAME + KPI_METRICS + _CATALOG_FILE,
}
SOURCE_CATALOG_TABLES = ("source_objectives", "source_kpis", "source_kpi_links", "source_kpi_metrics")
"""Derived-catalog tables, keyed per file by ``(source_name, catalog_file)``."""


class RawSchemaError(RuntimeError):
    """The warehouse holds a table whose columns contradict the declared source (e.g. a column's type changed)."""


def quote_ident(name: str) -> str:
    """A DuckDB identifier in double quotes (embedded quotes doubled): safe for any column or table name."""
    return '"' + name.replace('"', '""') + '"'


def column_list(columns: Columns) -> str:
    """``"a", "b", ...`` for an INSERT column list."""
    return ", ".join(quote_ident(c) for c, _ in columns)


def _existing_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """Column name -> DuckDB type of ``schema.table`` (empty when it does not exist)."""
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return dict(rows)


def _create(con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: Columns) -> None:
    existing = _existing_columns(con, schema, table)
    name = f"{schema}.{quote_ident(table)}"
    if not existing:
        body = ", ".join(f"{quote_ident(c)} {t}" for c, t in columns)
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({body})")
        return
    # A table created earlier by another loader (or an older version) may lack columns added since; DuckDB
    # cannot add a column with a constraint, so only the type is added (the contract columns carry the
    # constraints and are never added this way).
    for c, t in columns:
        if c not in existing:
            con.execute(f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {quote_ident(c)} {t.split()[0]}")


def metric_values_view_sql() -> str:
    """``SELECT`` of the ``raw.metric_values`` view: compact CSV rows joined to their file, then the full rows."""
    cols = [c for c, _ in METRIC_VALUES]
    compact = ", ".join(f"f.{quote_ident(c)}" if c in _FILE_PROVENANCE else f"r.{quote_ident(c)}" for c in cols)
    return (
        f"SELECT {compact} FROM raw.{METRIC_CSV_TABLE} r JOIN raw.{METRIC_FILES_TABLE} f ON f.file_id = r.file_id "
        f"UNION ALL SELECT {column_list(METRIC_VALUES)} FROM raw.{METRIC_ROWS_TABLE}"
    )


def _table_type(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> str | None:
    """``BASE TABLE``, ``VIEW`` or None (absent)."""
    row = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
    ).fetchone()
    return row[0] if row else None


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema ``raw``, every shared ``raw.*`` table of :data:`RAW_TABLES` and the ``raw.metric_values`` view.

    Idempotent. A ``raw.metric_values`` *table* (a warehouse from before the compact storage) is renamed to
    ``raw.metric_values__rows`` first, rows and all.
    """
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    if _table_type(con, "raw", METRIC_VALUES_VIEW) == "BASE TABLE":
        if _table_type(con, "raw", METRIC_ROWS_TABLE) is None:
            con.execute(f"ALTER TABLE raw.{METRIC_VALUES_VIEW} RENAME TO {METRIC_ROWS_TABLE}")
        else:  # both exist (interrupted migration): keep every row
            con.execute(f"INSERT INTO raw.{METRIC_ROWS_TABLE} BY NAME SELECT * FROM raw.{METRIC_VALUES_VIEW}")
            con.execute(f"DROP TABLE raw.{METRIC_VALUES_VIEW}")
    for table, columns in RAW_TABLES.items():
        _create(con, "raw", table, columns)
    con.execute(f"CREATE SEQUENCE IF NOT EXISTS raw.{METRIC_FILE_ID_SEQUENCE}")
    if _table_type(con, "raw", METRIC_VALUES_VIEW) != "VIEW" or _view_outdated(con):
        con.execute(f"CREATE OR REPLACE VIEW raw.{METRIC_VALUES_VIEW} AS {metric_values_view_sql()}")


def _view_outdated(con: duckdb.DuckDBPyConnection) -> bool:
    """The stored view selects other columns than the contract's (a view from an older version)."""
    have = [c for c, _ in _existing_columns(con, "raw", METRIC_VALUES_VIEW).items()]
    return have != [c for c, _ in METRIC_VALUES]


def storage_table(raw_table: str) -> str:
    """The table a writer with per-row provenance inserts into for ``raw_table`` (``raw.metric_values`` is a view).

    ``raw.metric_values`` → ``raw.metric_values__rows``; any other name is returned unchanged.
    """
    return f"raw.{METRIC_ROWS_TABLE}" if raw_table == f"raw.{METRIC_VALUES_VIEW}" else raw_table


ensure_raw_schema = create_raw_tables
"""The same function under the name :mod:`ingest.api_loader` imports."""


def create_catalog_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema ``catalog`` and its tables (:data:`CATALOG_TABLES`) if absent (idempotent)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS catalog")
    for table, columns in CATALOG_TABLES.items():
        _create(con, "catalog", table, columns)


def source_table_columns(source: CsvSource) -> Columns:
    """Columns of ``raw.<table>`` for a table-layout source: declared columns (sql names, typed) + provenance."""
    declared = tuple((sql_column_name(c), DUCKDB_TYPES[t]) for c, t in source.columns.items())
    return declared + PROVENANCE_DDL


def create_source_table(con: duckdb.DuckDBPyConnection, source: CsvSource) -> None:
    """Create ``raw.<table>`` of a table-layout source, or add columns declared since it was created.

    Raises :class:`RawSchemaError` when an existing column has another type than declared (change it on purpose:
    drop the table, or declare the stored type). Columns no longer declared are kept (NULL in new rows).
    """
    if source.layout != Layout.table:
        return
    table = source.raw_table.removeprefix("raw.")
    wanted = source_table_columns(source)
    existing = _existing_columns(con, "raw", table)
    for column, typ in wanted:
        have = existing.get(column)
        if have is not None and have.upper() != typ:
            raise RawSchemaError(
                f"source {source.name}: raw.{table}.{column} is {have} in the warehouse but declared {typ}; "
                f"drop raw.{table} (it is rebuilt from the files) or declare the stored type"
            )
    _create(con, "raw", table, wanted)
