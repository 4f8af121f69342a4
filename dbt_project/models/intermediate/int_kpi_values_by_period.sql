{{ config(materialized='view') }}
-- Each KPI's values at its own grain only (int_kpi_values_by_grain where is_native_grain): one row per KPI,
-- period and dimension ('*' = all dimensions), without the coarser roll-up rows of fct_kpi_values. A view: a
-- second copy of the KPI history every night is what issue 8 removed. Formulas: _int_scoring.yml
-- (int_kpi_values_by_grain).

with

by_grain as (

    select * from {{ ref('int_kpi_values_by_grain') }}
    where is_native_grain

),

final as (

    select
        kpi_id,
        period_start,
        period_end,
        grain,
        dimension,
        aggregation,
        direction,
        actual_value,
        numerator_value,
        denominator_value,
        target_value,
        target_type,
        target_lower_value,
        target_upper_value,
        target_baseline_value,
        target_origin,
        n_observations,
        last_observation_date
    from by_grain

)

select * from final
