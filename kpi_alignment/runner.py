"""Run the nightly Dagster job for one project, in this process, recorded in the project's Dagster instance.

``kpi-align run`` and the schedule execute the same job definition (``nightly_alignment``); runs started here are
stored under ``<output_dir>/dagster_home`` and appear in ``dg dev`` started with the same ``DAGSTER_HOME``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from kpi_alignment.project import EVALUATION_DATE_ENV, PROJECT_ENV, Project
from kpi_alignment.warehouse import WarehousePaths

log = logging.getLogger(__name__)


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
        for run_id in release_dead_runs(instance):
            log.warning("run %s was killed before it finished: marked failed and its writer slot freed", run_id)
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
        outcome = RunOutcome(result.run_id, result.success and not failed_checks, failed_steps, failed_checks)
        if not outcome.success:
            # a run that broke before its report leaves a failure notice beside latest.html (kept as it was)
            from orchestration.report_runs import notice_failed_run

            notice_failed_run(instance, result.run_id)
        return outcome


def release_dead_runs(instance: Any) -> list[str]:
    """Mark runs whose processes are all gone as failed and free their pool slots; returns their run ids.

    A run killed outright (SIGKILL, out of memory, power cut) stays ``STARTED`` in the Dagster instance and keeps
    its ``duckdb_write`` pool slot (``dagster.yaml``: one writer step at a time), so every later run would wait for
    that slot forever. ``instance`` is a ``DagsterInstance``. A run is dead when no process that logged one of its
    events is alive on this machine (the instance lives in the project's output folder, so its runs ran here); a run
    with no such process recorded yet (queued, starting) is left alone. Slots still held by finished runs are freed
    too. The filelock beside the warehouse needs no such care: the operating system releases it with the process.
    """
    import dagster as dg

    storage = instance.event_log_storage
    holders = set(storage.get_concurrency_run_ids()) if storage.supports_global_concurrency_limits else set()
    unfinished = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING])
    )
    released = []
    for run_id in sorted(holders | {r.dagster_run.run_id for r in unfinished}):
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            events = [e for e in instance.all_logs(run_id) if e.dagster_event is not None and e.dagster_event.pid]
            if not events or any(_alive(e.dagster_event.pid, e.timestamp) for e in events):
                continue
            instance.report_run_failed(
                run, "kpi-align: every process of this run is gone (killed); marked failed to free its writer slot"
            )
        if run_id in holders:
            storage.free_concurrency_slots_for_run(run_id)
        released.append(run_id)
    return released


def _alive(pid: int, since: float) -> bool:
    """Whether process ``pid`` runs and is the one that existed at ``since`` (epoch s), not a later reuse of its id."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: a zombie is dead; a process started after ``since`` only reuses the id
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open("/proc/stat", encoding="ascii") as fh:
            boot = next(float(line.split()[1]) for line in fh if line.startswith("btime"))
    except (OSError, StopIteration, IndexError, ValueError):
        return True
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return fields[0] != "Z" and started <= since + 1.0
