"""Resources shared by the assets: the dbt CLI pointed at this project."""

import dagster as dg
from dagster_dbt import DbtCliResource

from kpi_alignment.dbt import DBT_EXECUTABLE
from orchestration.context import dbt_project


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={"dbt": DbtCliResource(project_dir=dbt_project(), dbt_executable=str(DBT_EXECUTABLE))}
    )
