-- One row per KPI x evaluation date ever judged: status, cause, the previous run's status, the transition and
-- since when the status holds. "What did alignment look like on 1 March?" = the rows of 2024-03-01.

with

history as (

    select * from {{ ref('int_kpi_status_history') }}

),

final as (

    select
        cast(kpi_id as {{ dbt.type_string() }}) as kpi_id,
        cast(evaluation_date as date) as evaluation_date,
        cast(kpi_name as {{ dbt.type_string() }}) as kpi_name,
        cast(owner as {{ dbt.type_string() }}) as owner,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(cause_code as {{ dbt.type_string() }}) as cause_code,
        cast(cause_text as {{ dbt.type_string() }}) as cause_text,
        cast(since as date) as since,
        cast(previous_evaluation_date as date) as previous_evaluation_date,
        cast(previous_status as {{ dbt.type_string() }}) as previous_status,
        cast(transition as {{ dbt.type_string() }}) as transition,
        cast(last_value_date as date) as last_value_date,
        cast(data_age_days as integer) as data_age_days,
        cast(catalog_status as {{ dbt.type_string() }}) as catalog_status,
        cast(is_restatement as boolean) as is_restatement,
        cast(catalog_as_of as {{ dbt.type_timestamp() }}) as catalog_as_of,
        cast(recorded_at as {{ dbt.type_timestamp() }}) as recorded_at
    from history

)

select * from final
