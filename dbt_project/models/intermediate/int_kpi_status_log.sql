{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='evaluation_date',
    on_schema_change='append_new_columns',
    full_refresh=false,
) }}
-- The KPI statuses of every evaluation date ever judged: one row per KPI x evaluation_date. Each build replaces
-- all rows of its own evaluation date (delete+insert on evaluation_date, never null: a build without an
-- evaluation date is stopped by the test on stg_catalog__run_context), so re-running a date replaces it and
-- never duplicates (case B17), and a KPI removed since an earlier run of that date disappears from it too.
-- History: incremental and never fully refreshed (full_refresh=false).

with

evaluated as (

    select * from {{ ref('int_kpi_alignment_evaluated') }}

),

run as (

    select * from {{ ref('int_evaluation_runs') }}

),

final as (

    select
        evaluated.evaluation_date,
        evaluated.kpi_id,
        evaluated.kpi_name,
        evaluated.owner,
        evaluated.catalog_status,
        evaluated.status,
        evaluated.cause_code,
        evaluated.cause_text,
        evaluated.last_value_date,
        evaluated.data_age_days,
        run.is_restatement,
        run.catalog_as_of,
        run.recorded_at
    from evaluated
    inner join run
        on run.evaluation_date = evaluated.evaluation_date

)

select * from final
