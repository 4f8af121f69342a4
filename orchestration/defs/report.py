"""The nightly alignment report, built from the published snapshot of the marts (one run's data only), then sent.

Delivery (folder, webhook, e-mail from ``delivery:`` in kpi-align.yml) is retried per its policy; a failed
delivery is reported in the asset's metadata and log and never fails the data run.
"""

import dagster as dg

from kpi_alignment.report.build import build_report
from kpi_alignment.report.delivery import deliver_report
from orchestration.context import paths, project


@dg.asset(
    key=["report", "alignment_report"],
    group_name="report",
    kinds={"html", "json"},
    deps=[["serving", "published_marts"]],
    description="HTML + JSON + Markdown alignment report in the project's reports folder, then delivered.",
)
def alignment_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    proj = project()
    files = build_report(proj, paths(), run_id=context.run_id)
    deliveries = deliver_report(proj.settings.delivery, files, base_dir=proj.root)
    for d in deliveries:
        if not d.ok:
            context.log.warning(f"report delivery via {d.channel} to {d.target} failed after {d.attempts}: {d.error}")
    return dg.MaterializeResult(
        metadata={
            "html": dg.MetadataValue.path(str(files.html)),
            "json": dg.MetadataValue.path(str(files.json)),
            "preview": dg.MetadataValue.md(files.markdown_text),
            "deliveries": dg.MetadataValue.json(
                [{"channel": d.channel, "ok": d.ok, "attempts": d.attempts, "target": d.target} for d in deliveries]
            ),
        }
    )
