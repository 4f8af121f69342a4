"""How the report learns what broke in a run, and the failure notice for runs that never reached the report.

The report asset, the run-failure sensor (runs launched by the daemon) and ``kpi-align run`` (in-process runs,
:mod:`kpi_alignment.runner`) all read the run's own events from the Dagster instance: asset check evaluations that
failed with severity ERROR (a source's ``delivery``, an errored GX suite, a dbt test at error severity) and failed
steps (e.g. the dbt build). Checks that fail with severity WARN are findings, not breakage: the report shows them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import dagster as dg

from kpi_alignment.report.build import (
    ReportFiles,
    ReportOutcome,
    RunProblem,
    failure_notice_run_id,
    write_failure_notice,
)
from kpi_alignment.report.delivery import DeliveryResult, deliver_report
from orchestration.context import paths, project
from orchestration.defs.raw_sources import source_asset_key

log = logging.getLogger(__name__)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

MESSAGE_LIMIT = 600
"""Characters of a step's error message kept in a problem (the Dagster run log has the whole traceback)."""


def run_problems(instance: dg.DagsterInstance, run_id: str) -> list[RunProblem]:
    """What broke in run ``run_id`` so far, in event order: failed ERROR-severity checks and failed steps.

    A ``delivery`` check of a source asset carries the source's name (``RunProblem.source``).
    """
    sources = {source_asset_key(s): s.name for s in project().sources}
    problems: list[RunProblem] = []
    events = instance.all_logs(
        run_id, of_type={dg.DagsterEventType.ASSET_CHECK_EVALUATION, dg.DagsterEventType.STEP_FAILURE}
    )
    for entry in events:
        event = entry.dagster_event
        if event is None:
            continue
        data = event.event_specific_data
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            if data.passed or data.severity != dg.AssetCheckSeverity.ERROR:
                continue
            problems.append(
                RunProblem(
                    "check",
                    f"{data.asset_key.to_user_string()}:{data.check_name}",
                    data.description or "check failed",
                    source=sources.get(data.asset_key) if data.check_name == "delivery" else None,
                )
            )
        else:
            problems.append(
                RunProblem("step", event.step_key or "?", _shorten(_root_cause(getattr(data, "error", None))))
            )
    return problems


def _root_cause(error: Any) -> str:
    """The innermost error of a step failure (Dagster wraps the asset's own exception in
    DagsterExecutionStepExecutionError, whose message only says that the op failed)."""
    if error is None:
        return "step failed"
    while getattr(error, "cause", None) is not None:
        error = error.cause
    text = _ANSI.sub("", error.message or "").strip()
    # dagster-dbt's message starts with the whole command line; what failed follows this marker
    _, marker, errors = text.partition("Errors parsed from dbt logs:")
    if marker:
        text = "dbt build failed: " + errors.strip()
    return text or "step failed"


def _shorten(message: str) -> str:
    text = " ".join(message.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def deliver_outcome(outcome: ReportOutcome) -> list[DeliveryResult]:
    """Send what a report build produced: a complete report through every channel, a failure notice through the
    webhook and e-mail only (the delivery folder keeps the last good report as its ``latest.*``)."""
    delivery = project().settings.delivery
    if outcome.latest_updated and outcome.report is not None:
        return deliver_report(delivery, outcome.report, base_dir=project().root)
    if outcome.notice is not None:
        return deliver_notice(outcome.notice)
    return []


def deliver_notice(notice: ReportFiles) -> list[DeliveryResult]:
    """A failure notice through the webhook and e-mail channels (never the folder: see :func:`deliver_outcome`)."""
    delivery = project().settings.delivery.model_copy(update={"folder": None})
    return deliver_report(delivery, notice, base_dir=project().root)


def notice_failed_run(instance: dg.DagsterInstance, run_id: str) -> ReportFiles | None:
    """The failure notice of a run that failed, unless the report asset of that run already wrote it.

    Writes ``latest-failure.*`` (``latest.*`` stay the previous good report) and delivers it. Returns the notice,
    or None when there was nothing to do. Never raises: a notice that cannot be written is logged.
    """
    try:
        if failure_notice_run_id(paths()) == run_id:
            return None
        problems = run_problems(instance, run_id) or [
            RunProblem("run", run_id, "the run failed before any step or check reported why (see the Dagster run log)")
        ]
        notice = write_failure_notice(project(), paths(), run_id=run_id, problems=problems)
        for d in deliver_notice(notice):
            if not d.ok:
                log.warning("failure notice delivery via %s to %s failed: %s", d.channel, d.target, d.error)
        return notice
    except Exception:  # the run has failed already; a broken notice must not hide that
        log.exception("could not write the failure notice of run %s", run_id)
        return None
