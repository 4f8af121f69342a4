-- Every evaluation date ever judged (int_evaluation_runs) with the catalog revision it was last judged with,
-- plus this build's context: which row is this build's evaluation date and when the build ran. The report
-- (kpi_alignment/report) prints the revision in its footer, lists the dates `kpi-align report --as-of` can
-- rebuild, and tells two published snapshots apart by built_at.

with

runs as (

    select * from {{ ref('int_evaluation_runs') }}

),

run_context as (

    select * from {{ ref('stg_catalog__run_context') }}

),

final as (

    select
        cast(runs.evaluation_date as date) as evaluation_date,
        cast(runs.catalog_revision as {{ dbt.type_string() }}) as catalog_revision,
        cast(runs.is_restatement as boolean) as is_restatement,
        cast(runs.catalog_as_of as {{ dbt.type_timestamp() }}) as catalog_as_of,
        cast(runs.recorded_at as {{ dbt.type_timestamp() }}) as recorded_at,
        cast(runs.evaluation_date = run_context.evaluation_date as boolean) as is_this_build,
        cast(run_context.project_name as {{ dbt.type_string() }}) as project_name,
        cast({{ snapshot_get_time() }} as {{ dbt.type_timestamp() }}) as built_at
    from runs
    cross join run_context

)

select * from final
