"""Correct under failure: the previous good report stays ``latest.html`` and ``latest-failure.html`` says what broke.

Real Dagster runs of the real job on a copy of the demo's project and outputs, selecting only the assets each case
needs (the dbt build is not what is under test, and takes a minute):

1. a monthly export arrives as a zero-byte file: the ``flights`` asset fails its ``delivery`` check (ERROR); the
   report asset of the same run reads that from the instance, writes its dated report with a banner and the notice;
2. the report step itself fails (nothing published): the run fails before any report, and the notice is written
   the way ``kpi-align run`` (``notice_failed_run``) and the daemon's run-failure sensor write it.

Plus the snapshot path: ``kpi-align report`` on a snapshot whose latest load had failed files keeps latest.html.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_testkit import REPO, START_ENV, RunPool, background, run_cli
from report_testkit import edit_snapshot, parse, read_json, snapshot_copy

pytestmark = pytest.mark.slow

SCRIPT = r"""
import json, os, sys
from pathlib import Path
import dagster as dg
from orchestration.definitions import defs
from orchestration.report_runs import notice_failed_run
from orchestration.defs.report import report_failure_notice

job = defs().resolve_job_def("nightly_alignment")
reports = Path(os.environ["KPI_ALIGN_OUTPUT_DIR"]) / "reports"
served = Path(os.environ["KPI_ALIGN_OUTPUT_DIR"]) / "serving" / "kpi_alignment.duckdb"
out = {}
with dg.DagsterInstance.get() as instance:
    # 1. a broken delivery, then the report in the same run
    keys = [dg.AssetKey(["raw", "flights"]), dg.AssetKey(["report", "alignment_report"])]
    result = job.execute_in_process(instance=instance, raise_on_error=False, asset_selection=keys)
    out["delivery"] = {"run_id": result.run_id, "success": result.success,
                       "notice_again": str(notice_failed_run(instance, result.run_id))}
    # 2. nothing published: the report step fails
    served.rename(served.with_name("moved.duckdb"))
    result = job.execute_in_process(
        instance=instance, raise_on_error=False, asset_selection=[dg.AssetKey(["report", "alignment_report"])]
    )
    run_id = result.run_id
    notice = notice_failed_run(instance, run_id)  # what kpi-align run does after a failed run
    out["step"] = {"run_id": run_id, "success": result.success, "notice": str(notice),
                   "notice_json": (reports / "latest-failure.json").read_text()}
    # the daemon's sensor on the same failure: nothing new while the notice exists, the notice when it is gone
    failure = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    context = dg.build_run_status_sensor_context(
        sensor_name="report_failure_notice", dagster_event=failure, dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
    ).for_run_failure()
    before = (reports / "latest-failure.json").stat().st_mtime_ns
    report_failure_notice(context)
    out["sensor_rewrote"] = (reports / "latest-failure.json").stat().st_mtime_ns != before
    for name in ("latest-failure.html", "latest-failure.json", "latest-failure.md"):
        (reports / name).unlink()
    report_failure_notice(context)
    out["sensor_notice"] = json.loads((reports / "latest-failure.json").read_text())
    served.with_name("moved.duckdb").rename(served)
print("RESULT " + json.dumps(out))
"""


@background("failed_runs", after=("demo_run",), priority=4)
def _failed_runs(root: Path, runs: RunPool):
    """The script above on a copy of the demo's project and outputs (in the session's background pool)."""
    demo_run = runs.result("demo_run")
    project = root / "airline"
    shutil.copytree(demo_run.project, project, symlinks=True)
    output = root / "out"
    shutil.copytree(demo_run.output, output, symlinks=True, ignore=shutil.ignore_patterns("*.lock", "*.wal"))
    december = project / "data" / "flights" / "flights_2013_12.csv"
    december.write_bytes(b"")  # the export job died: a zero-byte delivery (case B09)
    good = (output / "reports" / "latest.html").read_bytes()
    good_json = read_json(output / "reports" / "latest.json")
    env = {
        **START_ENV,
        "KPI_ALIGN_PROJECT": str(project),
        "KPI_ALIGN_OUTPUT_DIR": str(output),
        "DAGSTER_HOME": str(output / "dagster_home"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-5000:]
    return output, good, good_json, json.loads(lines[-1][len("RESULT ") :])


@pytest.fixture(scope="module")
def failed_runs(runs: RunPool):
    return runs.result("failed_runs")


def test_a_failed_delivery_keeps_latest_and_marks_the_dated_report(failed_runs) -> None:
    output, _, good_json, result = failed_runs
    reports = output / "reports"
    run_id = result["delivery"]["run_id"]
    dated = read_json(next(reports.glob(f"alignment-*-{run_id[:8]}.json")))
    assert dated["complete"] is False
    (problem,) = dated["problems"]
    assert (problem["kind"], problem["where"], problem["source"]) == ("check", "raw/flights:delivery", "flights")
    assert "flights_2013_12.csv" in problem["message"]
    page = parse(next(reports.glob(f"alignment-*-{run_id[:8]}.html")))
    assert "incomplete" in page.ids("div")
    assert "Incomplete report" in page.text and "flights_2013_12.csv" in page.text
    # the notice of that run names what broke and which report latest.html still shows
    notices = [read_json(p) for p in reports.glob(f"failure-*-{run_id[:8]}.json")]
    assert len(notices) == 1 and notices[0]["latest_good"]["run_id"] == good_json["run_id"]
    assert notices[0]["incomplete_report"] == next(reports.glob(f"alignment-*-{run_id[:8]}.html")).name
    # kpi-align run calls notice_failed_run after the run: the asset wrote it already, nothing is repeated
    assert result["delivery"]["notice_again"] == "None"


def test_latest_html_is_never_replaced_by_a_failed_run(failed_runs) -> None:
    output, good, good_json, _ = failed_runs
    assert (output / "reports" / "latest.html").read_bytes() == good
    assert read_json(output / "reports" / "latest.json")["run_id"] == good_json["run_id"]


def test_a_run_that_breaks_before_the_report_leaves_a_notice(failed_runs) -> None:
    output, _, good_json, result = failed_runs
    step = result["step"]
    assert step["success"] is False
    notice = json.loads(step["notice_json"])
    assert notice["run_id"] == step["run_id"] and notice["kind"] == "failure_notice"
    assert notice["incomplete_report"] is None
    assert notice["latest_good"]["run_id"] == good_json["run_id"]
    (problem,) = notice["problems"]
    assert problem["kind"] == "step" and "alignment_report" in problem["where"]
    assert "never published" in problem["message"]
    page = parse(output / "reports" / "latest-failure.html")
    assert "NOT updated" in page.text and good_json["run_id"] in page.text and "never published" in page.text
    assert ("a", {"href": "latest.html"}) in page.tags


def test_the_run_failure_sensor_writes_the_same_notice_once(failed_runs) -> None:
    _, _, _, result = failed_runs
    assert result["sensor_rewrote"] is False
    assert result["sensor_notice"]["run_id"] == result["step"]["run_id"]
    assert result["sensor_notice"]["problems"] == json.loads(result["step"]["notice_json"])["problems"]


def test_a_snapshot_with_a_failed_load_is_not_published_as_latest(demo_run, tmp_path) -> None:
    paths = snapshot_copy(demo_run, tmp_path / "out", reports=True)
    good = (paths.reports_dir / "latest.html").read_bytes()
    edit_snapshot(
        paths,
        "update marts.fct_source_freshness set last_load_files_failed = 1, "
        "last_load_failures = 'data/flights/flights_2013_12.csv: zero-byte file'",
    )
    env = {"KPI_ALIGN_OUTPUT_DIR": str(paths.output_dir)}
    proc = run_cli("report", "--project", str(demo_run.project), env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "INCOMPLETE" in proc.stderr and "zero-byte file" in proc.stderr
    assert (paths.reports_dir / "latest.html").read_bytes() == good
    notice = read_json(paths.reports_dir / "latest-failure.json")
    assert [(p["kind"], p["where"]) for p in notice["problems"]] == [("source", "flights")]
    # once the snapshot is whole again, the next report is latest and the notice goes away
    edit_snapshot(paths, "update marts.fct_source_freshness set last_load_files_failed = 0, last_load_failures = null")
    proc = run_cli("report", "--project", str(demo_run.project), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (paths.reports_dir / "latest.html").read_bytes() != good
    assert not (paths.reports_dir / "latest-failure.html").exists()
