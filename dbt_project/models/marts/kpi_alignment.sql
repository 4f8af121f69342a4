-- One row per KPI: alignment status on the evaluation date, its cause, and since when it holds
-- (int_kpi_alignment_evaluated, int_kpi_status_history).

with

evaluated as (

    select * from {{ ref('int_kpi_alignment_evaluated') }}

),

history as (

    select * from {{ ref('int_kpi_status_history') }}

),

run as (

    select * from {{ ref('int_evaluation_runs') }}

),

final as (

    select
        cast(evaluated.kpi_id as {{ dbt.type_string() }}) as kpi_id,
        cast(evaluated.kpi_name as {{ dbt.type_string() }}) as kpi_name,
        cast(evaluated.owner as {{ dbt.type_string() }}) as owner,
        cast(evaluated.status as {{ dbt.type_string() }}) as status,
        cast(evaluated.cause_code as {{ dbt.type_string() }}) as cause_code,
        cast(evaluated.cause_text as {{ dbt.type_string() }}) as cause_text,
        cast(history.since as date) as since,
        cast(history.previous_status as {{ dbt.type_string() }}) as previous_status,
        cast(history.previous_evaluation_date as date) as previous_evaluation_date,
        cast(history.transition as {{ dbt.type_string() }}) as transition,
        cast(evaluated.has_data as boolean) as has_data,
        cast(evaluated.last_period_start as date) as last_period_start,
        cast(evaluated.n_periods_with_data as {{ dbt.type_bigint() }}) as n_periods_with_data,
        cast(evaluated.grain as {{ dbt.type_string() }}) as grain,
        cast(evaluated.metric_names as {{ dbt.type_string() }}) as metric_names,
        cast(evaluated.missing_metric_names as {{ dbt.type_string() }}) as missing_metric_names,
        cast(evaluated.source_names as {{ dbt.type_string() }}) as source_names,
        cast(evaluated.n_metric_rows as {{ dbt.type_bigint() }}) as n_metric_rows,
        cast(evaluated.last_value_date as date) as last_value_date,
        cast(evaluated.grace_days as integer) as grace_days,
        cast(evaluated.expected_period_start as date) as expected_period_start,
        cast(evaluated.expected_by as date) as expected_by,
        cast(evaluated.data_age_days as integer) as data_age_days,
        cast(evaluated.rename_candidates as {{ dbt.type_string() }}) as rename_candidates,
        cast(evaluated.n_links as {{ dbt.type_bigint() }}) as n_links,
        cast(evaluated.n_active_links as {{ dbt.type_bigint() }}) as n_active_links,
        cast(evaluated.n_live_links as {{ dbt.type_bigint() }}) as n_live_links,
        cast(evaluated.strategic_objective_ids as {{ dbt.type_string() }}) as strategic_objective_ids,
        cast(evaluated.parent_kpi_id as {{ dbt.type_string() }}) as parent_kpi_id,
        cast(evaluated.connected_via_kpi_id as {{ dbt.type_string() }}) as connected_via_kpi_id,
        cast(evaluated.id_needed_cleanup as boolean) as id_needed_cleanup,
        cast(evaluated.id_cleanup_text as {{ dbt.type_string() }}) as id_cleanup_text,
        cast(evaluated.is_live as boolean) as is_live,
        cast(evaluated.catalog_status as {{ dbt.type_string() }}) as catalog_status,
        cast(evaluated.origin as {{ dbt.type_string() }}) as origin,
        cast(run.is_restatement as boolean) as is_restatement,
        cast(run.catalog_as_of as {{ dbt.type_timestamp() }}) as catalog_as_of,
        cast(evaluated.evaluation_date as date) as evaluation_date
    from evaluated
    left join history
        on history.kpi_id = evaluated.kpi_id
        and history.evaluation_date = evaluated.evaluation_date
    left join run
        on run.evaluation_date = evaluated.evaluation_date

)

select * from final
