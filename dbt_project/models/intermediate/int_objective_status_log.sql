{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='evaluation_date',
    on_schema_change='append_new_columns',
    full_refresh=false,
) }}
-- The objective statuses of every evaluation date ever judged: one row per objective x evaluation_date,
-- replaced per evaluation date like int_kpi_status_log (idempotent, case B17). Never fully refreshed.

with

evaluated as (

    select * from {{ ref('int_objective_alignment_evaluated') }}

),

run as (

    select * from {{ ref('int_evaluation_runs') }}

),

final as (

    select
        evaluated.evaluation_date,
        evaluated.objective_id,
        evaluated.name,
        evaluated.level,
        evaluated.owner,
        evaluated.status,
        evaluated.cause_code,
        evaluated.cause_text,
        evaluated.n_live_kpis_total,
        evaluated.n_silent_kpis_total,
        run.is_restatement,
        run.catalog_as_of,
        run.recorded_at
    from evaluated
    inner join run
        on run.evaluation_date = evaluated.evaluation_date

)

select * from final
