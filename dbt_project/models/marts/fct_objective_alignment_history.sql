-- One row per objective x evaluation date ever judged: status, cause, the transition and since when it holds.

with

history as (

    select * from {{ ref('int_objective_status_history') }}

),

final as (

    select
        cast(objective_id as {{ dbt.type_string() }}) as objective_id,
        cast(evaluation_date as date) as evaluation_date,
        cast(name as {{ dbt.type_string() }}) as name,
        cast(level as {{ dbt.type_string() }}) as level,
        cast(owner as {{ dbt.type_string() }}) as owner,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(cause_code as {{ dbt.type_string() }}) as cause_code,
        cast(cause_text as {{ dbt.type_string() }}) as cause_text,
        cast(since as date) as since,
        cast(previous_evaluation_date as date) as previous_evaluation_date,
        cast(previous_status as {{ dbt.type_string() }}) as previous_status,
        cast(transition as {{ dbt.type_string() }}) as transition,
        cast(n_live_kpis_total as {{ dbt.type_bigint() }}) as n_live_kpis,
        cast(n_silent_kpis_total as {{ dbt.type_bigint() }}) as n_silent_kpis,
        cast(is_restatement as boolean) as is_restatement,
        cast(recorded_at as {{ dbt.type_timestamp() }}) as recorded_at
    from history

)

select * from final
