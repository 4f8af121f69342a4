-- KPI x grain x period x dimension ('*' = all dimensions): the KPI's value at its own grain and rolled up to
-- every coarser grain, with target, expected progress, attainment, score, RAG status, trend and forecast
-- (int_kpi_scores). Formulas: models/intermediate/_int_scoring.yml.

with

scores as (

    select * from {{ ref('int_kpi_scores') }}

),

final as (

    select
        cast(kpi_id as {{ dbt.type_string() }}) as kpi_id,
        cast(grain as {{ dbt.type_string() }}) as grain,
        cast(is_native_grain as boolean) as is_native_grain,
        cast(kpi_grain as {{ dbt.type_string() }}) as kpi_grain,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
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
        cast(as_of_date as date) as as_of_date,
        cast(elapsed_share as {{ kpi_alignment.type_double() }}) as elapsed_share,
        cast(expected_value as {{ kpi_alignment.type_double() }}) as expected_value,
        cast(expected_lower_value as {{ kpi_alignment.type_double() }}) as expected_lower_value,
        cast(expected_upper_value as {{ kpi_alignment.type_double() }}) as expected_upper_value,
        cast(attainment as {{ kpi_alignment.type_double() }}) as attainment,
        cast(score as {{ kpi_alignment.type_double() }}) as score,
        cast(rag_status as {{ dbt.type_string() }}) as rag_status,
        cast(rag_green_at as {{ kpi_alignment.type_double() }}) as rag_green_at,
        cast(rag_amber_at as {{ kpi_alignment.type_double() }}) as rag_amber_at,
        cast(previous_value as {{ kpi_alignment.type_double() }}) as previous_value,
        cast(change_value as {{ kpi_alignment.type_double() }}) as change_value,
        cast(change_pct as {{ kpi_alignment.type_double() }}) as change_pct,
        cast(trend as {{ dbt.type_string() }}) as trend,
        cast(forecast_value as {{ kpi_alignment.type_double() }}) as forecast_value,
        cast(forecast_method as {{ dbt.type_string() }}) as forecast_method,
        cast(forecast_gap as {{ kpi_alignment.type_double() }}) as forecast_gap,
        cast(forecast_shortfall as {{ kpi_alignment.type_double() }}) as forecast_shortfall,
        cast(forecast_meets_target as boolean) as forecast_meets_target,
        cast(numerator_value as {{ kpi_alignment.type_double() }}) as numerator_value,
        cast(denominator_value as {{ kpi_alignment.type_double() }}) as denominator_value,
        cast(n_observations as {{ dbt.type_bigint() }}) as n_observations,
        cast(last_observation_date as date) as last_observation_date,
        cast(evaluation_date as date) as evaluation_date
    from scores

)

select * from final
