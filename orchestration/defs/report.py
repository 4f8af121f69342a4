"""The nightly alignment report, built from the published snapshot of the marts (one run's data only)."""

import dagster as dg

from kpi_alignment.report.build import build_report
from orchestration.context import paths, project


@dg.asset(
    key=["report", "alignment_report"],
    group_name="report",
    kinds={"html", "json"},
    deps=[["serving", "published_marts"]],
    description="HTML + JSON + Markdown alignment report in the project's reports folder.",
)
def alignment_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    proj = project()
    files = build_report(proj, paths(), run_id=context.run_id)
    return dg.MaterializeResult(
        metadata={
            "html": dg.MetadataValue.path(str(files.html)),
            "json": dg.MetadataValue.path(str(files.json)),
            "preview": dg.MetadataValue.md(files.markdown_text),
        }
    )
