"""The dbt project as Dagster assets: staging, intermediate, marts, snapshots; dbt tests as asset checks.

The dbt step holds the warehouse writer lock for the whole ``dbt build`` (dbt-duckdb opens the file read-write;
case B16). Tables that several sources write (``raw.metric_values``, ``raw.file_loads``, …) are not assets of
their own: models reading them depend on every source asset instead, so lineage runs from files to marts.
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from kpi_alignment.dbt import dbt_vars
from kpi_alignment.warehouse import wait_until_writable, writer_lock
from orchestration.context import dbt_project, paths, project
from orchestration.defs.raw_sources import source_asset_key

LAYERS = ("staging", "intermediate", "marts")


class KpiDbtTranslator(DagsterDbtTranslator):
    """Groups assets by layer and rewires shared raw tables to the source assets that fill them."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project_: Any) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project_)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            return spec
        fqn = props.get("fqn", [])
        group = next((layer for layer in LAYERS if layer in fqn[1:-1]), None)
        if props["resource_type"] == "snapshot":
            group = "history"
        group = group or "derived_metrics"
        source_keys = {source_asset_key(s) for s in project().sources}
        shared_raw = [d for d in spec.deps if d.asset_key.path[0] == "raw" and d.asset_key not in source_keys]
        deps = list(spec.deps)
        if shared_raw:
            deps = [d for d in deps if d not in shared_raw] + [dg.AssetDep(k) for k in sorted(source_keys, key=str)]
        return spec.replace_attributes(group_name=group, deps=deps)


TRANSLATOR = KpiDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=TRANSLATOR,
    pool="duckdb_write",
    # dbt unit tests check the product's SQL on fixed fixtures: they run in the product's test suite, not
    # against each project's settings every night.
    exclude="resource_type:unit_test",
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """``dbt build`` (models, snapshots, data tests) under the writer lock, in the project's dbt target folder."""
    with writer_lock(paths()):
        # a process outside the lock protocol (a dbt left behind by a killed run) may still hold the file
        wait_until_writable(paths())
        # the target folder of `dbt parse` (kpi_alignment.dbt.ensure_manifest): dbt reuses its partial-parse state
        # instead of parsing the whole project again (~8 s) in a fresh folder per run, dagster-dbt's default
        build = ["build", "--vars", json.dumps(dbt_vars(project()))]
        yield from dbt.cli(build, context=context, target_path=paths().dbt_target_dir).stream()
