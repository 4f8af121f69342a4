-- One row per KPI -> objective link with its judgement on the evaluation date (int_kpi_links_evaluated).

with

links as (

    select * from {{ ref('int_kpi_links_evaluated') }}

),

final as (

    select
        cast(link_key as {{ dbt.type_string() }}) as link_key,
        cast(kpi_id as {{ dbt.type_string() }}) as kpi_id,
        cast(kpi_id_as_written as {{ dbt.type_string() }}) as kpi_id_as_written,
        cast(kpi_known as boolean) as kpi_known,
        cast(objective_id as {{ dbt.type_string() }}) as objective_id,
        cast(objective_id_as_written as {{ dbt.type_string() }}) as objective_id_as_written,
        cast(objective_known as boolean) as objective_known,
        cast(kpi_id_cleanup_reason is not null or objective_id_cleanup_reason is not null as boolean)
            as id_needed_cleanup,
        cast(weight as {{ kpi_alignment.type_double() }}) as weight,
        cast(informational as boolean) as informational,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        cast(is_valid_on_evaluation_date as boolean) as is_valid_on_evaluation_date,
        cast(is_active as boolean) as is_active,
        cast(is_live as boolean) as is_live,
        cast(link_state as {{ dbt.type_string() }}) as link_state,
        cast(link_text as {{ dbt.type_string() }}) as link_text,
        cast(strategic_objective_id as {{ dbt.type_string() }}) as strategic_objective_id,
        cast(objective_path as {{ dbt.type_string() }}) as objective_path,
        cast(origin as {{ dbt.type_string() }}) as origin,
        cast(source_name as {{ dbt.type_string() }}) as source_name,
        cast(evaluation_date as date) as evaluation_date
    from links

)

select * from final
