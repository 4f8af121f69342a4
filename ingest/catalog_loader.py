"""Write a project's validated strategy catalog (``catalog/*.yml``) into the ``catalog.*`` tables.

Every run replaces the whole catalog in one transaction (``docs/architecture.md``): the YAML in git is the truth,
the tables are its copy for dbt. A failure rolls back to the previous copy. ``catalog.run_context`` holds one row:
the evaluation date the run judges statuses at, the catalog's git revision and the project name.

Rows are inserted with ``executemany`` (a catalog has hundreds of entries, not millions). The caller holds the
warehouse writer lock and passes a connection that is not inside a transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from ingest.raw_schema import CATALOG_TABLES, Columns, column_list, create_catalog_tables

__all__ = ["CATALOG_TABLES", "CatalogLoadResult", "catalog_rows", "load_catalog"]
from kpi_alignment.catalog import Catalog
from kpi_alignment.project import Project


@dataclass(frozen=True)
class CatalogLoadResult:
    """What :func:`load_catalog` wrote: rows per ``catalog.*`` table, and the run context."""

    rows: dict[str, int]  # table name (objectives, kpis, kpi_metrics, kpi_links, targets, run_context) -> rows
    evaluation_date: dt.date
    catalog_revision: str

    def get(self, table: str, default: int = 0) -> int:
        """Rows written to ``catalog.<table>`` (``default`` for a name that is no catalog table)."""
        return self.rows.get(table, default)


def load_catalog(
    con: duckdb.DuckDBPyConnection,
    project: Project,
    evaluation_date: dt.date | None = None,
    catalog_revision: str | None = None,
    *,
    loaded_at: dt.datetime | None = None,
) -> CatalogLoadResult:
    """Replace ``catalog.objectives / kpis / kpi_metrics / kpi_links / targets / run_context`` from ``project``.

    ``evaluation_date`` defaults to :meth:`Project.evaluation_date` (settings, else today in the schedule's
    timezone); ``catalog_revision`` to :meth:`Project.catalog_revision` (git commit, ``+dirty``, or
    ``unversioned``); ``loaded_at`` (naive UTC) to now. ``catalog_file`` columns hold the YAML file (relative to the
    project) an entry was defined in. Raises ``duckdb.Error`` after rolling back if a write fails.
    """
    evaluation_date = project.evaluation_date(evaluation_date)
    revision = catalog_revision if catalog_revision is not None else project.catalog_revision()
    stamp = loaded_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = catalog_rows(project.catalog)
    rows["run_context"] = [(evaluation_date, revision, project.settings.name, stamp)]
    create_catalog_tables(con)
    con.execute("BEGIN TRANSACTION")
    try:
        for table, columns in CATALOG_TABLES.items():
            con.execute(f"DELETE FROM catalog.{table}")
            _insert(con, table, columns, rows[table])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return CatalogLoadResult({t: len(r) for t, r in rows.items()}, evaluation_date, revision)


def catalog_rows(catalog: Catalog) -> dict[str, list[tuple[Any, ...]]]:
    """The catalog as rows per ``catalog.*`` table (column order of :data:`ingest.raw_schema.CATALOG_TABLES`).

    ``kpi_metrics`` lists each KPI's metric names with their role (``value`` aliases, or ``numerator`` /
    ``denominator`` of a ratio KPI), once per (KPI, metric, role).
    """

    def origin(kind: str, key: str) -> str | None:
        where = catalog.origin.get((kind, key))
        if where is None:
            return None
        file, _, line = where.rpartition(":")
        return file if file and line.isdigit() else where  # "catalog/x.yml:12" -> "catalog/x.yml"

    objectives = [
        (
            o.id, o.name, o.description, o.level, o.parent, o.owner, o.time_frame.start, o.time_frame.end,
            o.status, origin("objective", o.id),
        )
        for o in catalog.objectives
    ]  # fmt: skip
    kpis = [
        (
            k.id, k.name, k.description, k.unit, k.direction, k.aggregation, k.grain, k.owner, k.status,
            k.parent_kpi, k.expected_within_days, origin("kpi", k.id),
            k.rag.green_at if k.rag else None, k.rag.amber_at if k.rag else None,
        )
        for k in catalog.kpis
    ]  # fmt: skip
    metrics = list(
        dict.fromkeys(
            (k.id, name, role)
            for k in catalog.kpis
            for role, names in (
                ("value", k.metrics.value),
                ("numerator", k.metrics.numerator),
                ("denominator", k.metrics.denominator),
            )
            for name in names
        )
    )
    links = [(li.kpi, li.objective, li.weight, li.informational, li.valid_from, li.valid_to) for li in catalog.links]
    targets = [
        (t.kpi, t.period_start, t.period_end, t.type, t.value, t.lower, t.upper, t.baseline) for t in catalog.targets
    ]
    return {"objectives": objectives, "kpis": kpis, "kpi_metrics": metrics, "kpi_links": links, "targets": targets}


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: Columns, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        marks = ", ".join("?" for _ in columns)
        con.executemany(f"INSERT INTO catalog.{table} ({column_list(columns)}) VALUES ({marks})", rows)
