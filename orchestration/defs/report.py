"""The nightly alignment report, built from the published snapshot of the marts (one run's data only), then sent.

The report asset reads its own run's check results and step failures from the Dagster instance
(:func:`orchestration.report_runs.run_problems`). Any failed ERROR-severity check (a source's ``delivery``, an
errored GX suite) makes the report incomplete: it is written with a banner, ``latest.html`` keeps the previous good
report and ``latest-failure.html`` says what broke. When a step upstream fails (e.g. the dbt build), this asset does
not run; the run-failure sensor below (daemon runs) and ``kpi-align run`` (in-process runs) write the notice instead.

Delivery (folder, webhook, e-mail from ``delivery:`` in kpi-align.yml) is retried per its policy; a failed
delivery is reported in the asset's metadata and log and never fails the data run.
"""

import dagster as dg

from kpi_alignment.report.build import build_report
from orchestration.context import paths, project
from orchestration.defs.schedules import nightly_job
from orchestration.report_runs import deliver_outcome, notice_failed_run, run_problems


@dg.asset(
    key=["report", "alignment_report"],
    group_name="report",
    kinds={"html", "json"},
    deps=[["serving", "published_marts"]],
    description="HTML + JSON + Markdown alignment report in the project's reports folder, then delivered.",
)
def alignment_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    proj = project()
    problems = run_problems(context.instance, context.run_id)
    outcome = build_report(proj, paths(), run_id=context.run_id, problems=problems)
    if outcome.problems:
        context.log.error(
            "report incomplete, latest.html kept: " + "; ".join(f"{p.where}: {p.message}" for p in outcome.problems)
        )
    deliveries = deliver_outcome(outcome)
    for d in deliveries:
        if not d.ok:
            context.log.warning(f"report delivery via {d.channel} to {d.target} failed after {d.attempts}: {d.error}")
    files = outcome.report
    if files is None:  # a nightly build writes its dated report or raises; never silently nothing
        raise RuntimeError("the report build returned no files")
    metadata: dict[str, dg.RawMetadataValue] = {
        "html": dg.MetadataValue.path(str(files.html)),
        "json": dg.MetadataValue.path(str(files.json)),
        "preview": dg.MetadataValue.md(files.markdown_text),
        "complete": outcome.complete,
        "latest_updated": outcome.latest_updated,
        "html_bytes": files.html.stat().st_size,
        "deliveries": dg.MetadataValue.json(
            [{"channel": d.channel, "ok": d.ok, "attempts": d.attempts, "target": d.target} for d in deliveries]
        ),
    }
    if outcome.notice is not None:
        metadata["failure_notice"] = dg.MetadataValue.path(str(outcome.notice.html))
        metadata["problems"] = dg.MetadataValue.json([p.as_dict() for p in outcome.problems])
    return dg.MaterializeResult(metadata=metadata)


@dg.run_failure_sensor(
    name="report_failure_notice",
    monitored_jobs=[nightly_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When a nightly run fails before its report, writes reports/latest-failure.html (latest.html kept).",
)
def report_failure_notice(context: dg.RunFailureSensorContext) -> None:
    notice_failed_run(context.instance, context.dagster_run.run_id)
