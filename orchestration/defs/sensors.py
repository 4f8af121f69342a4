"""File-arrival sensors: a run of the nightly job for each new or changed file in a CSV source's drop folder.

The cursor is the content hash per path plus the newest (mtime, name) actually seen, and the run key carries the
content hash (``ingest.arrivals``, case B23): a re-upload with an old timestamp or a corrected file under the same
name triggers a run; an identical re-delivery does not. Off by default; the nightly schedule is the baseline.
"""

import dagster as dg

from ingest.arrivals import scan_arrivals
from ingest.csv_loader import source_files
from kpi_alignment.sources import CsvSource
from orchestration.context import project
from orchestration.defs.schedules import nightly_job


def build_arrival_sensor(source: CsvSource) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{source.name}_file_arrivals",
        job=nightly_job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Runs the nightly job when a new or changed file matches {source.path}.",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        arrivals, cursor = scan_arrivals(source_files(source, project().root), context.cursor)
        for arrival in arrivals:
            yield dg.RunRequest(run_key=f"{source.name}:{arrival.run_key}", tags={"kpi_align/file": arrival.path.name})
        context.update_cursor(cursor)

    return _sensor


@dg.definitions
def sensors() -> dg.Definitions:
    return dg.Definitions(sensors=[build_arrival_sensor(s) for s in project().sources if isinstance(s, CsvSource)])
