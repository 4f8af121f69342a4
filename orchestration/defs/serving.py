"""Publishing: the marts copied atomically to the file BI tools open read-only (and to Parquet)."""

import dagster as dg

from kpi_alignment.serving import publish_marts
from orchestration.context import paths, project
from orchestration.defs.dbt import dbt_models

MART_KEYS = [k for k in dbt_models.keys if k.path[0] == "marts" or "marts" in k.path[:-1]]


@dg.asset(
    key=["serving", "published_marts"],
    group_name="serving",
    kinds={"duckdb", "parquet"},
    deps=MART_KEYS,
    pool="duckdb_write",
    description="serving/kpi_alignment.duckdb: the marts as of the last good run, for BI tools (read-only).",
)
def published_marts() -> dg.MaterializeResult:
    result = publish_marts(paths(), **project().settings.warehouse.model_dump())
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.database)),
            "tables": dg.MetadataValue.json(result.tables),
        }
    )
