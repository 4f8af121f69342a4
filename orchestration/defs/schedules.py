"""The nightly job (every asset, in dependency order) and its schedule in the project's local time."""

import dagster as dg

from kpi_alignment.runner import release_dead_runs
from orchestration.context import project

nightly_job = dg.define_asset_job(
    "nightly_alignment",
    selection=dg.AssetSelection.all(),
    description="Ingest sources and catalog, build dbt models and checks, publish the marts, write the report.",
)


@dg.definitions
def schedules() -> dg.Definitions:
    schedule = project().settings.schedule

    @dg.schedule(
        name="nightly_alignment_schedule",
        job=nightly_job,
        cron_schedule=schedule.cron,
        execution_timezone=schedule.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def nightly_alignment_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        """Tonight's run, after freeing the writer slot of any run that was killed (it would wait forever)."""
        if context.instance_ref is not None:
            for run_id in release_dead_runs(context.instance):
                context.log.warning(f"run {run_id} was killed before it finished: marked failed, writer slot freed")
        return dg.RunRequest()

    return dg.Definitions(jobs=[nightly_job], schedules=[nightly_alignment_schedule])
