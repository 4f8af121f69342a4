"""The strategy catalog asset: the project's validated YAML written to the ``catalog.*`` tables."""

import dagster as dg

from ingest.catalog_loader import CATALOG_TABLES, load_catalog
from kpi_alignment.warehouse import write_connection
from orchestration.context import paths, project


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["catalog", table],
            group_name="catalog",
            kinds={"yaml", "duckdb"},
            description=f"catalog.{table}",
        )
        for table in CATALOG_TABLES
    ],
    name="strategy_catalog",
    pool="duckdb_write",
)
def strategy_catalog(context: dg.AssetExecutionContext):
    """Validate and load the git-versioned catalog (objectives, KPIs, links, targets) in one transaction."""
    proj = project()
    revision = proj.catalog_revision()
    with write_connection(paths(), **proj.settings.warehouse.model_dump()) as con:
        counts = load_catalog(con, proj, proj.evaluation_date(), revision)
    for table in CATALOG_TABLES:
        yield dg.MaterializeResult(
            asset_key=["catalog", table],
            metadata={"dagster/row_count": counts.get(table, 0), "catalog_revision": revision},
        )
