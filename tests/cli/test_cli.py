"""The ``kpi-align`` command line as a user runs it: help, validate, and the catalog gate on a pull request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipeline_testkit import copy_example, run_cli


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


def test_catalog_only_check_passes_on_the_example(tmp_path: Path) -> None:
    result = run_cli("check", "--catalog-only", "--project", str(copy_example(tmp_path / "p")), "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["passed"] is True


def test_pull_request_retiring_an_objective_fails_the_gate(tmp_path: Path) -> None:
    """A PR that retires the strategic objective still served by KPIs must fail before merge."""
    project = copy_example(tmp_path / "p")
    settings = project / "kpi-align.yml"
    settings.write_text(settings.read_text().replace("disconnected: warn", "disconnected: error"))
    objectives = project / "catalog" / "objectives.yml"
    text = objectives.read_text()
    start = text.index("- id: OBJ-RELIABLE")
    end = text.index("status: active", start) + len("status: active")
    objectives.write_text(text[:start] + text[start:end].replace("status: active", "status: retired") + text[end:])

    result = run_cli("check", "--catalog-only", "--project", str(project), "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    lost = {f["id"] for f in report["findings"] if f["status"] == "disconnected" and f["severity"] == "error"}
    assert {"KPI-OTP-DEP", "KPI-OTP-ARR", "KPI-CANCEL-RATE", "KPI-ARR-DELAY"} <= lost
    table = run_cli("check", "--catalog-only", "--project", str(project))
    assert table.returncode == 1
    assert "KPI-OTP-ARR" in table.stdout and "OBJ-RELIABLE" in table.stdout
