"""DDL of every table ingest writes: ``raw.*`` (sources) and ``catalog.*`` (the YAML strategy catalog).

The column lists below are the contract of ``docs/architecture.md``; each is defined once and reused:
``raw.source_objectives`` / ``raw.source_kpis`` / ``raw.source_kpi_links`` / ``raw.source_kpi_metrics`` are the
``catalog.*`` columns plus ``source_name`` (and ``catalog_file`` where ``catalog.*`` has none, because derived
entries are replaced per source file).

Everything is idempotent: ``CREATE ... IF NOT EXISTS`` and ``ADD COLUMN IF NOT EXISTS``. That also covers a
table another loader created first with only the contract columns (the HTTP loader creates
``raw.file_loads`` and ``raw.metric_values``): the columns this module adds beyond the contract
(``raw.file_loads.formula_errors`` / ``config_hash``) are appended, never reordered.
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
RAW_TABLES: dict[str, Columns] = {
    "metric_values": METRIC_VALUES,
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


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema ``raw`` and every shared ``raw.*`` table of :data:`RAW_TABLES` if absent (idempotent)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for table, columns in RAW_TABLES.items():
        _create(con, "raw", table, columns)


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
