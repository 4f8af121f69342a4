"""Fixtures for the dbt tests: one ``dbt parse`` per session (the manifest the other layers load)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dbt_fixtures import run_dbt


@pytest.fixture(scope="session")
def dbt_manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``dbt parse`` of dbt_project/ (no project models), as the parsed manifest.json."""
    work = tmp_path_factory.mktemp("dbt-parse")
    result = run_dbt(["parse"], database=work / "unused.duckdb", target_path=work / "target")
    assert result.returncode == 0, result.output[-3000:]
    return json.loads((work / "target" / "manifest.json").read_text())


@pytest.fixture(scope="session")
def dbt_manifest_path(dbt_manifest: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session manifest written to a file (for dagster-dbt)."""
    path = tmp_path_factory.mktemp("manifest") / "manifest.json"
    path.write_text(json.dumps(dbt_manifest))
    return path
