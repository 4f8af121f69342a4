"""The dbt project as parsed: public marts, contracts, schemas and how the alignment checks reach Dagster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MARTS = {
    "dim_objectives",
    "dim_kpis",
    "bridge_kpi_objectives",
    "fct_kpi_values",
    "kpi_alignment",
    "objective_alignment",
    "fct_alignment_history",
    "fct_objective_alignment_history",
    "unmapped_metrics",
    "fct_alignment_coverage",
    "fct_data_age_by_owner",
}
ALIGNMENT_CHECKS = {
    "assert_no_orphaned_kpis": ("kpi_alignment", "warn"),
    "assert_no_disconnected_kpis": ("kpi_alignment", "error"),
    "assert_no_unmeasured_objectives": ("objective_alignment", "error"),
    "assert_no_ids_needing_cleanup": ("kpi_alignment", "warn"),
    "assert_no_silent_kpis": ("kpi_alignment", "warn"),
    "assert_no_unfed_kpis": ("kpi_alignment", "error"),
    "assert_no_stale_objectives": ("objective_alignment", "warn"),
    "assert_no_unmapped_metrics": ("unmapped_metrics", "warn"),
}


def _models(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def test_marts_are_contracted_tables_in_schema_marts_with_every_column_typed_and_documented(
    dbt_manifest: dict[str, Any],
) -> None:
    models = _models(dbt_manifest)
    assert set(models) >= MARTS
    for name in MARTS:
        node = models[name]
        assert node["schema"] == "marts", name
        assert node["config"]["materialized"] == "table", name
        assert node["config"]["contract"]["enforced"] is True, name
        for column, spec in node["columns"].items():
            assert spec["data_type"], f"{name}.{column} has no data_type"
            assert spec["description"].strip(), f"{name}.{column} has no description"


def test_layers_land_in_their_own_schemas_and_staging_is_views(dbt_manifest: dict[str, Any]) -> None:
    for name, node in _models(dbt_manifest).items():
        layer = node["fqn"][1]
        if layer == "staging":
            assert (node["schema"], node["config"]["materialized"]) == ("staging", "view"), name
        elif layer == "intermediate":
            assert node["schema"] == "intermediate", name


def test_sources_cover_the_catalog_and_raw_contract_with_freshness_on_file_loads(
    dbt_manifest: dict[str, Any],
) -> None:
    sources = {(s["source_name"], s["name"]): s for s in dbt_manifest["sources"].values()}
    catalog = {"objectives", "kpis", "kpi_metrics", "kpi_links", "targets", "run_context"}
    raw = {
        "metric_values",
        "file_loads",
        "rejects",
        "source_objectives",
        "source_kpis",
        "source_kpi_links",
        "source_kpi_metrics",
    }
    assert {("catalog", t) for t in catalog} | {("raw", t) for t in raw} <= set(sources)
    file_loads = sources[("raw", "file_loads")]
    assert file_loads["loaded_at_field"] == "loaded_at"
    assert file_loads["freshness"]["warn_after"]["count"] == 2


def test_catalog_snapshots_keep_history_of_kpis_objectives_and_links(dbt_manifest: dict[str, Any]) -> None:
    snapshots = {n["name"]: n for n in dbt_manifest["nodes"].values() if n["resource_type"] == "snapshot"}
    assert set(snapshots) == {
        "snp_catalog__objectives",
        "snp_catalog__kpis",
        "snp_catalog__kpi_links",
        "snp_catalog__kpi_metrics",
    }
    keys = {name: node["config"]["unique_key"] for name, node in snapshots.items()}
    assert keys == {
        "snp_catalog__objectives": "objective_id",
        "snp_catalog__kpis": "kpi_id",
        "snp_catalog__kpi_links": "link_key",
        "snp_catalog__kpi_metrics": "metric_key",
    }
    assert all(node["config"]["strategy"] == "check" for node in snapshots.values())


def test_alignment_checks_have_default_severities_and_name_the_asset_they_attach_to(
    dbt_manifest: dict[str, Any],
) -> None:
    tests = {n["name"]: n for n in dbt_manifest["nodes"].values() if n["resource_type"] == "test"}
    for name, (model, severity) in ALIGNMENT_CHECKS.items():
        node = tests[name]
        assert node["config"]["severity"].lower() == severity, name
        assert node["config"]["meta"]["dagster"]["ref"] == {"name": model}, name


def test_alignment_checks_become_dagster_asset_checks_on_their_marts(dbt_manifest_path: Path) -> None:
    """Case B21: a singular test is only an asset check when dagster-dbt can tell which asset it belongs to."""
    from dagster_dbt import dbt_assets

    @dbt_assets(manifest=dbt_manifest_path)
    def kpi_alignment_dbt(context):  # never executed: only its definition is inspected
        yield from ()

    checks = {(key.asset_key.path[-1], key.name) for key in kpi_alignment_dbt.check_keys}
    for name, (model, _) in ALIGNMENT_CHECKS.items():
        assert (model, name) in checks, f"{name} is not an asset check on {model}"
