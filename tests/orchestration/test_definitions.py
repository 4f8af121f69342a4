"""The Dagster code location: it loads from a clean output folder (B20), and its asset graph is a visible diff.

The graph snapshot (syrupy) lists every asset key with its group, dependencies and checks: a change to lineage,
layers or checks shows up in review as a change to ``__snapshots__/test_definitions.ambr``
(update with ``pytest --snapshot-update``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_testkit import REPO, START_ENV, RunPool, background

DUMP_GRAPH = """
import json
from orchestration.definitions import defs
d = defs()
graph = d.resolve_asset_graph()
out = {}
for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
    node = graph.get(key)
    out[key.to_user_string()] = {
        "group": node.group_name,
        "deps": sorted(p.to_user_string() for p in node.parent_keys),
        "checks": sorted(c.name for c in node.check_keys),
    }
job = d.resolve_job_def("nightly_alignment")
schedule = d.resolve_schedule_def("nightly_alignment_schedule")
print(json.dumps({"assets": out, "job": job.name, "schedule": [schedule.cron_schedule, schedule.execution_timezone],
                  "sensors": sorted(s.name for s in d.sensors)}))
"""


@background("asset_graph")
def _asset_graph(root: Path, runs: RunPool) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Load the definitions in a fresh process with an empty output folder (in the session's background pool)."""
    output = root / "defs-out"
    output.mkdir()
    env = {**START_ENV, "KPI_ALIGN_OUTPUT_DIR": str(output)}
    env.pop("KPI_ALIGN_PROJECT", None)
    assert not (output / "dbt_target" / "manifest.json").exists()
    proc = subprocess.run(
        [sys.executable, "-c", DUMP_GRAPH], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return output, proc


@pytest.fixture(scope="module")
def asset_graph(runs: RunPool) -> tuple[Path, subprocess.CompletedProcess[str]]:
    return runs.result("asset_graph")


@pytest.fixture(scope="module")
def graph(asset_graph: tuple[Path, subprocess.CompletedProcess[str]]) -> dict:
    """The definitions loaded in a fresh process with an empty output folder: no manifest existed beforehand."""
    output, proc = asset_graph
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (output / "dbt_target" / "manifest.json").is_file()
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_asset_graph_snapshot(graph: dict, snapshot) -> None:
    assert graph == snapshot


def test_lineage_runs_from_source_files_to_the_report(graph: dict) -> None:
    assets = graph["assets"]

    def upstream(key: str) -> set[str]:
        seen, todo = set(), [key]
        while todo:
            for dep in assets[todo.pop()]["deps"]:
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    above_report = upstream("report/alignment_report")
    assert {"raw/flights", "catalog/kpis", "marts/kpi_alignment", "serving/published_marts"} <= above_report
    assert {a["group"] for a in assets.values()} >= {"raw", "catalog", "staging", "intermediate", "marts", "report"}
    # The orphan rule (a test spanning two models, B21) is a check on the mart it concerns.
    assert "assert_no_orphaned_kpis" in assets["marts/kpi_alignment"]["checks"]
    assert set(assets["raw/flights"]["checks"]) == {"delivery", "gx_batch"}
    assert graph["schedule"] == ["0 6 * * *", "America/New_York"]


@background("dg_check_defs")
def _dg_check_defs(root: Path, runs: RunPool) -> subprocess.CompletedProcess[str]:
    """``dg check defs`` from the repository (in the session's background pool)."""
    env = {**START_ENV, "KPI_ALIGN_OUTPUT_DIR": str(Path(os.environ.get("TMPDIR", "/tmp")) / "kpi-align-dg-check")}
    dg = Path(sys.executable).with_name("dg")
    return subprocess.run([str(dg), "check", "defs"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def dg_check_defs(runs: RunPool) -> subprocess.CompletedProcess[str]:
    return runs.result("dg_check_defs")


def test_dg_check_defs_passes_from_the_repo(dg_check_defs: subprocess.CompletedProcess[str]) -> None:
    proc = dg_check_defs
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "All definitions loaded successfully" in proc.stdout + proc.stderr
