"""The nightly job (every asset, in dependency order) and its schedule in the project's local time."""

import dagster as dg

from orchestration.context import project

nightly_job = dg.define_asset_job(
    "nightly_alignment",
    selection=dg.AssetSelection.all(),
    description="Ingest sources and catalog, build dbt models and checks, publish the marts, write the report.",
)


@dg.definitions
def schedules() -> dg.Definitions:
    schedule = project().settings.schedule
    return dg.Definitions(
        jobs=[nightly_job],
        schedules=[
            dg.ScheduleDefinition(
                name="nightly_alignment_schedule",
                job=nightly_job,
                cron_schedule=schedule.cron,
                execution_timezone=schedule.timezone,
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        ],
    )
