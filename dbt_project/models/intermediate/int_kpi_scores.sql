{%- set defaults = kpi_alignment.rag_thresholds() -%}
{%- set progress = var('expected_progress', 'linear') | string | lower | trim -%}
{%- if progress not in ('linear', 'stepped') -%}
    {{ exceptions.raise_compiler_error("var expected_progress must be 'linear' or 'stepped', got '" ~ progress ~ "'") }}
{%- endif -%}
{%- set tolerance = var('trend_flat_tolerance', 0.01) | string | trim -%}
{%- if not modules.re.match('^\d+(\.\d+)?$', tolerance) -%}
    {{ exceptions.raise_compiler_error("var trend_flat_tolerance must be a number >= 0, got '" ~ tolerance ~ "'") }}
{%- endif -%}
-- Every KPI value row (all grains, all dimensions) scored against its target on the evaluation date:
-- expected progress, attainment, 0-100 score, RAG status, change from the previous period, trend and a
-- forecast of the period-end value. Formulas, sources and edge cases: _int_scoring.yml (int_kpi_scores);
-- the attainment and RAG rules themselves are macros/scoring.sql.

with

kpi_values as (

    select * from {{ ref('int_kpi_values_by_grain') }}

),

run_context as (

    select evaluation_date from {{ ref('stg_catalog__run_context') }}

),

kpi_thresholds as (

    select kpi_id, rag_green_at, rag_amber_at
    from {{ ref('stg_catalog__kpis') }}
    where kpi_id is not null

),

-- how far into the period the value is: up to the end of the KPI's own period holding the latest observation
-- (a monthly figure dated the 1st covers its month), never past the period or the evaluation date
timed as (

    select
        kpi_values.*,
        run_context.evaluation_date,
        least(
            kpi_values.period_end,
            run_context.evaluation_date,
            -- no observation (a row of nulls): the period end; coalesce keeps least() portable
            coalesce(
                {{ kpi_alignment.period_end('kpi_values.kpi_grain',
                    kpi_alignment.period_start('kpi_values.kpi_grain', 'kpi_values.last_observation_date')) }},
                kpi_values.period_end)
        ) as as_of_date
    from kpi_values
    cross join run_context

),

progressed as (

    select
        *,
        {%- if progress == 'stepped' %}
        -- stepped: only whole periods of the KPI's own grain count as elapsed
        case
            when as_of_date = {{ kpi_alignment.period_end('kpi_grain',
                kpi_alignment.period_start('kpi_grain', 'as_of_date')) }} then as_of_date
            else {{ kpi_alignment.add_days(kpi_alignment.period_start('kpi_grain', 'as_of_date'), -1) }}
        end as progress_date
        {%- else %}
        as_of_date as progress_date
        {%- endif %}
    from timed

),

shared as (

    select
        *,
        greatest(0.0, least(1.0,
            cast({{ kpi_alignment.period_days('period_start', 'progress_date') }} as {{ kpi_alignment.type_double() }})
            / {{ kpi_alignment.period_days('period_start', 'period_end') }}
        )) as elapsed_share,
        -- a catalog target of a sum KPI is a total for the whole period: by now only the elapsed share of it
        -- is due. A source's target of a sum KPI is already the sum over the rows delivered so far.
        aggregation = 'sum' and target_origin in ('catalog', 'catalog_phased', 'rolled_up') as is_cumulative_target
    from progressed

),

expected as (

    select
        *,
        case
            when target_type = 'range' then null
            when is_cumulative_target then target_value * elapsed_share
            -- progress from the baseline towards the target along the period (linear trajectory)
            when target_type in ('increase_to', 'decrease_to') and target_baseline_value is not null
                then target_baseline_value + (target_value - target_baseline_value) * elapsed_share
            else target_value
        end as expected_value,
        case when is_cumulative_target then target_lower_value * elapsed_share else target_lower_value end
            as expected_lower_value,
        case when is_cumulative_target then target_upper_value * elapsed_share else target_upper_value end
            as expected_upper_value,
        case when is_cumulative_target then target_baseline_value * elapsed_share else target_baseline_value end
            as expected_baseline_value
    from shared

),

attained as (

    select
        expected.*,
        {{ kpi_alignment.attainment('expected.target_type', 'expected.actual_value', 'expected.expected_value',
            'expected.expected_baseline_value', 'expected.expected_lower_value', 'expected.expected_upper_value') }}
            as attainment,
        coalesce(kpi_thresholds.rag_green_at, {{ defaults['green_at'] }}) as rag_green_at,
        coalesce(kpi_thresholds.rag_amber_at, {{ defaults['amber_at'] }}) as rag_amber_at
    from expected
    left join kpi_thresholds
        on kpi_thresholds.kpi_id = expected.kpi_id

),

scored as (

    select
        *,
        {{ kpi_alignment.score_from_attainment('attainment') }} as score
    from attained

),

forecast as (

    select
        *,
        {{ kpi_alignment.rag_status('actual_value', 'score', 'rag_green_at', 'rag_amber_at') }} as rag_status,
        -- linear run-rate for sums (value so far / elapsed share); the current value for levels and rates
        case
            when actual_value is null then null
            when aggregation = 'sum' and elapsed_share > 0 then actual_value / elapsed_share
            else actual_value
        end as forecast_value,
        case
            when actual_value is null then null
            when aggregation = 'sum' then 'linear_run_rate'
            else 'current_value'
        end as forecast_method,
        -- the full-period target the forecast is held against (a source's sum target so far, run-rated too)
        case
            when aggregation = 'sum' and target_origin = 'source' and elapsed_share > 0
                then 1.0 / elapsed_share
            else 1.0
        end as full_period_factor
    from scored

),

previous_period as (

    select kpi_id, grain, dimension, period_end, actual_value
    from kpi_values

),

final as (

    select
        forecast.kpi_id,
        forecast.kpi_grain,
        forecast.grain,
        forecast.is_native_grain,
        forecast.period_start,
        forecast.period_end,
        forecast.dimension,
        forecast.aggregation,
        forecast.direction,
        forecast.actual_value,
        forecast.numerator_value,
        forecast.denominator_value,
        forecast.n_observations,
        forecast.last_observation_date,
        forecast.target_value,
        forecast.target_type,
        forecast.target_lower_value,
        forecast.target_upper_value,
        forecast.target_baseline_value,
        forecast.target_origin,
        forecast.as_of_date,
        forecast.elapsed_share,
        forecast.expected_value,
        forecast.expected_lower_value,
        forecast.expected_upper_value,
        forecast.attainment,
        forecast.score,
        forecast.rag_status,
        forecast.rag_green_at,
        forecast.rag_amber_at,
        previous_period.actual_value as previous_value,
        forecast.actual_value - previous_period.actual_value as change_value,
        (forecast.actual_value - previous_period.actual_value) / nullif(abs(previous_period.actual_value), 0)
            as change_pct,
        -- direction-aware; an unfinished sum period is compared through its run-rate forecast
        case
            when forecast.forecast_value is null or previous_period.actual_value is null then null
            when abs(forecast.forecast_value - previous_period.actual_value)
                <= {{ tolerance }} * abs(previous_period.actual_value) then 'flat'
            when (forecast.forecast_value > previous_period.actual_value)
                = (coalesce(forecast.direction, 'higher_is_better') <> 'lower_is_better') then 'improving'
            else 'worsening'
        end as trend,
        forecast.forecast_value,
        forecast.forecast_method,
        case when forecast.target_type <> 'range'
            then forecast.forecast_value - forecast.target_value * forecast.full_period_factor
        end as forecast_gap,
        case
            when forecast.forecast_value is null then null
            when forecast.target_type = 'range'
                and (forecast.target_lower_value is null or forecast.target_upper_value is null) then null
            when forecast.target_type <> 'range' and forecast.target_value is null then null
        else case forecast.target_type
            when 'at_least' then greatest(forecast.target_value * forecast.full_period_factor - forecast.forecast_value, 0.0)
            when 'increase_to' then greatest(forecast.target_value * forecast.full_period_factor - forecast.forecast_value, 0.0)
            when 'at_most' then greatest(forecast.forecast_value - forecast.target_value * forecast.full_period_factor, 0.0)
            when 'decrease_to' then greatest(forecast.forecast_value - forecast.target_value * forecast.full_period_factor, 0.0)
            when 'range' then greatest(
                forecast.target_lower_value * forecast.full_period_factor - forecast.forecast_value,
                forecast.forecast_value - forecast.target_upper_value * forecast.full_period_factor,
                0.0)
            when 'boolean' then abs(forecast.forecast_value - forecast.target_value)
        end end as forecast_shortfall,
        forecast.evaluation_date
    from forecast
    left join previous_period
        on previous_period.kpi_id = forecast.kpi_id
        and previous_period.grain = forecast.grain
        and previous_period.dimension = forecast.dimension
        and previous_period.period_end = {{ kpi_alignment.add_days('forecast.period_start', -1) }}

)

select
    *,
    forecast_shortfall = 0 as forecast_meets_target
from final
