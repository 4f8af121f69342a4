"""Run the nightly Dagster job for one project, in this process, recorded in the project's Dagster instance.

``kpi-align run`` and the schedule execute the same job definition (``nightly_alignment``); runs started here are
stored under ``<output_dir>/dagster_home`` and appear in ``dg dev`` started with the same ``DAGSTER_HOME``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass, field

from kpi_alignment.project import EVALUATION_DATE_ENV, PROJECT_ENV, Project
from kpi_alignment.warehouse import WarehousePaths


@dataclass
class RunOutcome:
    """Result of one nightly run: Dagster run id, success, failed steps and failed checks (name: reason)."""

    run_id: str
    success: bool
    failed_steps: list[str] = field(default_factory=list)
    failed_checks: dict[str, str] = field(default_factory=dict)


def prepare_environment(project: Project, evaluation_date: dt.date | None = None) -> WarehousePaths:
    """Point this process (and the Dagster steps it starts) at ``project``; returns its warehouse paths."""
    paths = WarehousePaths(project.output_dir).ensure()
    os.environ[PROJECT_ENV] = str(project.root)
    os.environ["DAGSTER_HOME"] = str(paths.dagster_home)
    if evaluation_date is not None:
        os.environ[EVALUATION_DATE_ENV] = evaluation_date.isoformat()
    return paths


def run_nightly(project: Project, evaluation_date: dt.date | None = None, log_level: str = "INFO") -> RunOutcome:
    """Execute the ``nightly_alignment`` job for ``project``.

    Raises ``ProjectError`` if the project is invalid (before anything is written). Step failures do not raise:
    they are returned in :class:`RunOutcome`.
    """
    import dagster as dg

    paths = prepare_environment(project, evaluation_date)
    from orchestration.definitions import defs

    job = defs().resolve_job_def("nightly_alignment")
    paths.logs_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    # dbt's own console output (written to stdout by dagster-dbt) goes to a file; Dagster's step log stays on
    # the terminal as progress.
    with (
        dg.DagsterInstance.get() as instance,
        open(paths.logs_dir / f"dbt-{stamp}.log", "w", encoding="utf-8") as dbt_log,
        contextlib.redirect_stdout(dbt_log),
    ):
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
        failed_steps = [e.step_key for e in result.all_events if e.is_step_failure and e.step_key]
        failed_checks = {}
        for event in result.all_events:
            if event.event_type_value == "ASSET_CHECK_EVALUATION":
                evaluation = event.event_specific_data
                if not evaluation.passed and evaluation.severity.value == "ERROR":
                    name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                    failed_checks[name] = evaluation.description or ""
        return RunOutcome(result.run_id, result.success and not failed_checks, failed_steps, failed_checks)
