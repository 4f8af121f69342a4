-- KPI x period x dimension values with targets (int_kpi_values_by_period). '*' = all dimensions.

with

kpi_values as (

    select * from {{ ref('int_kpi_values_by_period') }}

),

final as (

    select
        cast(kpi_id as {{ dbt.type_string() }}) as kpi_id,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        cast(grain as {{ dbt.type_string() }}) as grain,
        cast(dimension as {{ dbt.type_string() }}) as dimension,
        cast(aggregation as {{ dbt.type_string() }}) as aggregation,
        cast(direction as {{ dbt.type_string() }}) as direction,
        cast(actual_value as {{ kpi_alignment.type_double() }}) as actual_value,
        cast(target_value as {{ kpi_alignment.type_double() }}) as target_value,
        cast(target_type as {{ dbt.type_string() }}) as target_type,
        cast(target_lower_value as {{ kpi_alignment.type_double() }}) as target_lower_value,
        cast(target_upper_value as {{ kpi_alignment.type_double() }}) as target_upper_value,
        cast(target_baseline_value as {{ kpi_alignment.type_double() }}) as target_baseline_value,
        cast(target_origin as {{ dbt.type_string() }}) as target_origin,
        cast(numerator_value as {{ kpi_alignment.type_double() }}) as numerator_value,
        cast(denominator_value as {{ kpi_alignment.type_double() }}) as denominator_value,
        cast(n_observations as {{ dbt.type_bigint() }}) as n_observations,
        cast(last_observation_date as date) as last_observation_date
    from kpi_values

)

select * from final
