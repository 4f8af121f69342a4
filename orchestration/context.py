"""The one kpi-alignment project this Dagster code location serves, and its dbt project.

Chosen like the CLI chooses it (``$KPI_ALIGN_PROJECT``, else the bundled example). Loading it also makes sure the
dbt manifest exists for this project (``dbt parse`` into the project's output directory when missing or stale),
so a clean clone loads without a separate preparation step (case B20).
"""

from __future__ import annotations

import os
from functools import cache

from dagster_dbt import DbtProject

from kpi_alignment.dbt import dbt_env, ensure_manifest, project_dbt_dir, target_path
from kpi_alignment.project import Project, load_project
from kpi_alignment.warehouse import WarehousePaths


@cache
def project() -> Project:
    """The loaded, validated project (raises ``ProjectError`` listing every problem)."""
    return load_project()


@cache
def paths() -> WarehousePaths:
    return WarehousePaths(project().output_dir).ensure()


@cache
def dbt_project() -> DbtProject:
    """The dbt project pointed at this kpi-alignment project; its manifest is prepared here."""
    proj = project()
    # dbt subprocesses started by dagster-dbt inherit this process's environment.
    os.environ.update({k: v for k, v in dbt_env(proj).items() if k.startswith(("KPI_ALIGN_", "DBT_"))})
    ensure_manifest(proj)
    dbt_dir = project_dbt_dir(proj)
    return DbtProject(project_dir=dbt_dir, profiles_dir=dbt_dir, target_path=target_path(proj))
