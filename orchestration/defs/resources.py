"""Resources shared by the assets: the dbt CLI pointed at this project."""

from functools import cached_property
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging import version

from kpi_alignment.dbt import DBT_EXECUTABLE
from orchestration.context import dbt_project


class ProjectDbtCli(DbtCliResource):
    """dagster-dbt's ``DbtCliResource`` without two start-up costs of every dbt step (3-9 s, ``make bench``).

    * The version of the dbt executable is read from the ``dbt-core`` package it belongs to (``DBT_EXECUTABLE`` is
      the ``dbt`` of this environment) instead of a ``dbt --version`` subprocess, which imports dbt and asks PyPI
      for the latest release.
    * No dbt adapter is opened in the Dagster process: dagster-dbt uses it only to fetch column and row-count
      metadata, which these assets do not request.

    Both override private members of dagster-dbt (pinned in ``constraints.txt``); the orchestration-overhead
    benchmark shows when an upgrade changes them.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)

    def _initialize_dbt_core_adapter(self, args: Any) -> None:
        return None


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={"dbt": ProjectDbtCli(project_dir=dbt_project(), dbt_executable=str(DBT_EXECUTABLE))}
    )
