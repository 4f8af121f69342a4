-- One row per KPI: alignment status on the evaluation date and its cause (int_kpi_alignment_evaluated).

with

evaluated as (

    select * from {{ ref('int_kpi_alignment_evaluated') }}

),

final as (

    select
        cast(kpi_id as {{ dbt.type_string() }}) as kpi_id,
        cast(kpi_name as {{ dbt.type_string() }}) as kpi_name,
        cast(owner as {{ dbt.type_string() }}) as owner,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(cause_code as {{ dbt.type_string() }}) as cause_code,
        cast(cause_text as {{ dbt.type_string() }}) as cause_text,
        cast(has_data as boolean) as has_data,
        cast(last_period_start as date) as last_period_start,
        cast(n_periods_with_data as {{ dbt.type_bigint() }}) as n_periods_with_data,
        cast(n_links as {{ dbt.type_bigint() }}) as n_links,
        cast(n_active_links as {{ dbt.type_bigint() }}) as n_active_links,
        cast(n_live_links as {{ dbt.type_bigint() }}) as n_live_links,
        cast(strategic_objective_ids as {{ dbt.type_string() }}) as strategic_objective_ids,
        cast(parent_kpi_id as {{ dbt.type_string() }}) as parent_kpi_id,
        cast(connected_via_kpi_id as {{ dbt.type_string() }}) as connected_via_kpi_id,
        cast(id_needed_cleanup as boolean) as id_needed_cleanup,
        cast(id_cleanup_text as {{ dbt.type_string() }}) as id_cleanup_text,
        cast(is_live as boolean) as is_live,
        cast(catalog_status as {{ dbt.type_string() }}) as catalog_status,
        cast(origin as {{ dbt.type_string() }}) as origin,
        cast(evaluation_date as date) as evaluation_date
    from evaluated

)

select * from final
