"""The ``kpi-align`` command line as a user runs it: help, validate, and the catalog gate on a pull request."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pipeline_testkit import RunPool, background, copy_example, run_cli


@pytest.mark.parametrize("command", ["run", "validate", "check", "report", "demo"])
def test_every_command_has_help(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_validate_the_bundled_example() -> None:
    result = run_cli("validate")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout and "8 KPIs" in result.stdout


def test_validate_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    kpis = project / "catalog" / "kpis.yml"
    text = kpis.read_text()
    kpis.write_text(text.replace("direction: higher_is_better", "direction: upwards", 1))
    links = project / "catalog" / "links.yml"
    links.write_text(links.read_text() + "  - {kpi: KPI-NOPE, objective: OBJ-RELIABLE}\n")
    result = run_cli("validate", "--project", str(project))
    assert result.returncode == 1
    line = next(i for i, s in enumerate(kpis.read_text().splitlines(), 1) if "direction: upwards" in s)
    assert f"catalog/kpis.yml:{line}" in result.stderr
    assert "KPI-NOPE" in result.stderr


@background("catalog_check_of_the_example")
def _catalog_check_of_the_example(root: Path, runs: RunPool) -> subprocess.CompletedProcess[str]:
    """``check --catalog-only`` (a dbt build on a scratch database, about half a minute) in the background pool."""
    return run_cli("check", "--catalog-only", "--project", str(copy_example(root / "p")), "--format", "json")


@pytest.fixture(scope="module")
def catalog_check_of_the_example(runs: RunPool) -> subprocess.CompletedProcess[str]:
    return runs.result("catalog_check_of_the_example")


def test_catalog_only_check_passes_on_the_example(catalog_check_of_the_example) -> None:
    result = catalog_check_of_the_example
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["passed"] is True


@background("pr_retiring_an_objective")
def _pr_retiring_an_objective(root: Path, runs: RunPool) -> tuple[subprocess.CompletedProcess[str], ...]:
    """The gate (JSON, then the table) on a PR that retires the strategic objective still served by KPIs."""
    project = copy_example(root / "p")
    settings = project / "kpi-align.yml"
    settings.write_text(settings.read_text().replace("disconnected: warn", "disconnected: error"))
    objectives = project / "catalog" / "objectives.yml"
    text = objectives.read_text()
    start = text.index("- id: OBJ-RELIABLE")
    end = text.index("status: active", start) + len("status: active")
    objectives.write_text(text[:start] + text[start:end].replace("status: active", "status: retired") + text[end:])
    result = run_cli("check", "--catalog-only", "--project", str(project), "--format", "json")
    table = run_cli("check", "--catalog-only", "--project", str(project))
    return result, table


@pytest.fixture(scope="module")
def pr_retiring_an_objective(runs: RunPool) -> tuple[subprocess.CompletedProcess[str], ...]:
    return runs.result("pr_retiring_an_objective")


def test_pull_request_retiring_an_objective_fails_the_gate(pr_retiring_an_objective) -> None:
    """A PR that retires the strategic objective still served by KPIs must fail before merge."""
    result, table = pr_retiring_an_objective
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    lost = {f["id"] for f in report["findings"] if f["status"] == "disconnected" and f["severity"] == "error"}
    assert {"KPI-OTP-DEP", "KPI-OTP-ARR", "KPI-CANCEL-RATE", "KPI-ARR-DELAY"} <= lost
    assert table.returncode == 1
    assert "KPI-OTP-ARR" in table.stdout and "OBJ-RELIABLE" in table.stdout
