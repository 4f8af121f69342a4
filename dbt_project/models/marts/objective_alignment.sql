-- One row per objective: measured | stale | unmeasured | inactive on the evaluation date, its cause and since
-- when it holds (int_objective_alignment_evaluated, int_objective_status_history). Rules in _marts.yml.

with

evaluated as (

    select * from {{ ref('int_objective_alignment_evaluated') }}

),

history as (

    select * from {{ ref('int_objective_status_history') }}

),

run as (

    select * from {{ ref('int_evaluation_runs') }}

),

final as (

    select
        cast(evaluated.objective_id as {{ dbt.type_string() }}) as objective_id,
        cast(evaluated.name as {{ dbt.type_string() }}) as name,
        cast(evaluated.level as {{ dbt.type_string() }}) as level,
        cast(evaluated.status as {{ dbt.type_string() }}) as status,
        cast(evaluated.cause_code as {{ dbt.type_string() }}) as cause_code,
        cast(evaluated.cause_text as {{ dbt.type_string() }}) as cause_text,
        cast(history.since as date) as since,
        cast(history.previous_status as {{ dbt.type_string() }}) as previous_status,
        cast(history.transition as {{ dbt.type_string() }}) as transition,
        cast(evaluated.n_live_kpis_direct as {{ dbt.type_bigint() }}) as n_live_kpis_direct,
        cast(evaluated.n_live_kpis_total as {{ dbt.type_bigint() }}) as n_live_kpis_total,
        cast(evaluated.n_live_kpis_total as {{ dbt.type_bigint() }}) as n_live_kpis,
        cast(evaluated.live_kpi_ids as {{ dbt.type_string() }}) as live_kpi_ids,
        cast(evaluated.n_silent_kpis_total as {{ dbt.type_bigint() }}) as n_silent_kpis,
        cast(evaluated.silent_kpi_ids as {{ dbt.type_string() }}) as silent_kpi_ids,
        cast(evaluated.parent_objective_id as {{ dbt.type_string() }}) as parent_objective_id,
        cast(evaluated.strategic_objective_id as {{ dbt.type_string() }}) as strategic_objective_id,
        cast(evaluated.reaches_live_strategic as boolean) as reaches_live_strategic,
        cast(evaluated.owner as {{ dbt.type_string() }}) as owner,
        cast(run.is_restatement as boolean) as is_restatement,
        cast(evaluated.evaluation_date as date) as evaluation_date
    from evaluated
    left join history
        on history.objective_id = evaluated.objective_id
        and history.evaluation_date = evaluated.evaluation_date
    left join run
        on run.evaluation_date = evaluated.evaluation_date

)

select * from final
